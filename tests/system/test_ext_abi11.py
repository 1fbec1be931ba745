"""ABI 1.1 through the running daemon (issue 15): the golden 1.1 plugin
(tests/abi/golden11.c, built from the frozen 1.1 header only) hears of
every port added, removed and changed, sees a receive time on every
packet, answers a per-switch RPC method for the switch it is called for,
and keeps a state blob across `ext reload` and a restart; the frozen 1.0
golden plugin loads into the 1.1 host unchanged; the reload to a broken
file keeps the old version; a crash of each class lands in the log."""

import os
import signal
import subprocess

import pytest

from conftest import VSWITCHD, RpcError, ext_entry, ping, wait_for
from test_ext_abi import MAJOR, MINOR, load_golden, plugin, report, tap_port
from test_ext_lifecycle import two_vms

NAME = "golden11"


def golden11(daemon):
    return daemon.rpc(f"{NAME}.report")


def state_file(daemon):
    return daemon.state_dir / "ext-state" / NAME


def test_host_is_1_1():
    assert (MAJOR, MINOR) == (1, 1)


def test_golden_1_0_loads_into_the_1_1_host(daemon, topo):
    """The plugin built from the frozen 1.0 header: loads, says ABI 1.0,
    runs (its contract checks stay 0) and never sees a 1.1 member."""
    name = load_golden(daemon, "filter")
    entry = ext_entry(daemon, name)
    assert (entry["abi"], entry["state"]) == ("1.0", "ready")
    vm1, _ = two_vms(daemon, topo)
    daemon.rpc("ext.enable", switch="sw0", name=name)
    assert ping(vm1, "198.18.0.2")
    r = report(daemon, name)
    assert r["process_packets"] > 0
    assert (r["bad_batch"], r["bad_in_port"], r["bad_out_port"]) == (0, 0, 0)
    # A port added and changed with a 1.0 plugin on the switch: nothing
    # to call, nothing breaks.
    tap_port(daemon, topo, "vm3")
    daemon.rpc("port.set", name="vm3", **{"mac-limit": 12})
    daemon.rpc("port.del", name="vm3")
    assert ping(vm1, "198.18.0.2")


def test_golden_1_1_port_events_timestamps_and_switch_methods(daemon, topo):
    daemon.rpc("ext.load", path=plugin(NAME))
    entry = ext_entry(daemon, NAME)
    assert (entry["abi"], entry["state"]) == ("1.1", "ready")
    assert golden11(daemon)["init_state"] is None
    assert golden11(daemon)["old_host"] is False
    vm1, _ = two_vms(daemon, topo)
    daemon.rpc("switch.add", name="sw1")

    # Right after start: one port_added per port the switch has.
    daemon.rpc("ext.enable", switch="sw0", name=NAME)
    assert sorted(golden11(daemon)["events"]) == ["added:vm1", "added:vm2"]
    tap_port(daemon, topo, "vm3")
    daemon.rpc("port.set", name="vm3", **{"mac-limit": 12})
    daemon.rpc("port.del", name="vm3")
    assert golden11(daemon)["events"][2:] == [
        "added:vm3", "changed:vm3", "removed:vm3"]
    # A port of another switch is none of its business.
    daemon.rpc("port.add", switch="sw1", name="other", type="tap",
               ifname=topo.ifname("o"))
    assert len(golden11(daemon)["events"]) == 5

    # Receive stamps: set, the same across a batch, close to now.
    assert ping(vm1, "198.18.0.2", count=3)
    r = golden11(daemon)
    assert r["batches"] > 0
    assert (r["rx_time_ok"], r["rx_time_bad"]) == (r["batches"], 0), r

    # The per-switch method gets the switch it is called for.
    where = daemon.rpc(f"{NAME}.where", switch="sw0")
    assert (where["switch"], where["started_on"]) == ("sw0", "sw0")
    assert where["packets"] > 0 and where["n_workers"] >= 2
    with pytest.raises(RpcError, match="not running on switch 'sw1'"):
        daemon.rpc(f"{NAME}.where", switch="sw1")
    with pytest.raises(RpcError, match="no switch named 'nosuch'"):
        daemon.rpc(f"{NAME}.where", switch="nosuch")
    with pytest.raises(RpcError, match="switch"):
        daemon.rpc(f"{NAME}.where")
    with pytest.raises(RpcError):
        daemon.rpc(f"{NAME}.where", switch=7)
    daemon.rpc("ext.enable", switch="sw1", name=NAME)
    assert daemon.rpc(f"{NAME}.where", switch="sw1")["started_on"] == "sw1"
    daemon.rpc("port.del", name="other")


def test_golden_1_1_state_blob(daemon, topo):
    daemon.rpc("ext.load", path=plugin(NAME))
    two_vms(daemon, topo)
    daemon.rpc("ext.enable", switch="sw0", name=NAME)
    daemon.rpc(f"{NAME}.save", state="threshold=64")
    path = state_file(daemon)
    assert path.read_bytes() == b"threshold=64"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert not path.with_name(NAME + ".tmp").exists()
    # Too large: refused, the old blob stays.
    with pytest.raises(RpcError, match="Argument list too long"):
        daemon.rpc(f"{NAME}.save", size=65537)
    assert path.read_bytes() == b"threshold=64"
    daemon.rpc(f"{NAME}.save", size=65536)
    assert path.stat().st_size == 65536
    daemon.rpc(f"{NAME}.save", state="threshold=64")

    # The new version's init gets it back; so does a restarted daemon's.
    daemon.rpc("ext.reload", name=NAME)
    r = golden11(daemon)
    assert r["init_state"] == "threshold=64"
    # And the reloaded instance heard of the ports again.
    assert sorted(r["events"]) == ["added:vm1", "added:vm2"]
    daemon.stop()
    daemon.start()
    assert golden11(daemon)["init_state"] == "threshold=64"
    # Unload forgets it.
    daemon.rpc("ext.unload", name=NAME)
    assert not path.exists()
    daemon.rpc("ext.load", path=plugin(NAME))
    assert golden11(daemon)["init_state"] is None


def test_reload_to_a_failing_init_keeps_the_old_one(daemon, topo):
    vm1, _ = two_vms(daemon, topo)
    daemon.rpc("ext.load", path=plugin("misbehave_open"))
    daemon.rpc("ext.enable", switch="sw0", name="misbehave-open")
    assert ping(vm1, "198.18.0.2")
    before = daemon.rpc("misbehave-open.report")["packets"]
    with pytest.raises(RpcError, match="this build refuses to initialise; "
                       "the old one keeps running"):
        daemon.rpc("ext.reload", name="misbehave-open",
                   path=plugin("misbehave_badinit"))
    with pytest.raises(RpcError, match=f"built for ABI {MAJOR + 1}"):
        daemon.rpc("ext.reload", name="misbehave-open",
                   path=plugin("broken_wrong_major"))
    entry = ext_entry(daemon, "misbehave-open")
    assert entry["state"] == "ready"
    assert entry["path"] == plugin("misbehave_open")
    assert ping(vm1, "198.18.0.2")
    # The old instance still counts (its method, its packets).
    assert daemon.rpc("misbehave-open.report")["packets"] > before
    assert "replaced" not in daemon.log.read_text()


@pytest.mark.parametrize("ext_class", ["capture", "forwarding"])
def test_crash_of_each_class_is_logged_under_detach(daemon_factory, topo,
                                                    ext_class):
    """The filter case is test_ext_unload.py's; these are the others."""
    name = f"misbehave-{ext_class}"
    d = daemon_factory(name=f"det{ext_class[:3]}", start=False)
    d.state_dir.mkdir(parents=True)
    pidfile = d.state_dir.parent / f"det{ext_class[:3]}.pid"
    subprocess.run([str(VSWITCHD), "--state-dir", str(d.state_dir),
                    "--log-file", str(d.log), f"--pidfile={pidfile}",
                    "--detach", "--workers", "2"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True, timeout=30)
    pid = int(pidfile.read_text())
    try:
        assert wait_for(lambda: d.socket.exists(), timeout=20)
        vm1, _ = two_vms(d, topo)
        d.rpc("ext.load", path=plugin(f"misbehave_{ext_class}"))
        d.rpc("ext.enable", switch="sw0", name=name)
        d.rpc("ext.config", switch="sw0", name=name, config={"mode": "crash"})
        ping(vm1, "198.18.0.2", count=1, timeout=1)
        assert wait_for(lambda: not os.path.exists(f"/proc/{pid}"),
                        timeout=15), "the daemon survived"
    finally:
        if os.path.exists(f"/proc/{pid}"):
            os.kill(pid, signal.SIGKILL)
    log = d.log.read_text()
    line = [x for x in log.splitlines() if "fatal signal" in x]
    assert line, log
    assert f"fatal signal inside extension {name}" in line[0], line
    assert f"in extension {name}" in line[0].split("; pc")[1], line
    assert (d.state_dir / "ext-crash").read_text() == f"{name}\n"
    if "ERROR: AddressSanitizer" in log:
        d.log.rename(d.log.with_name("crash-report.log"))
