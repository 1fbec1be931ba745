"""The life of extensions in the daemon: persistence, --extension-dir,
reordering under traffic, the capability matrix and the order of the
stages; and extensions that misbehave are contained: a crash or a hang
quarantines the extension at the next start, an error or abort storm trips
its circuit breaker with its declared failure policy.  The plugins are
built from tests/abi/plugins/."""

import json
import subprocess
import time

import pytest

from conftest import (BUILD, TOP, RpcError, add_vm, csum_errors, ext_entry,
                      ext_stats, iperf_server, ping, sh, wait_for)

PLUGINS = BUILD / "tests" / "abi"
SAMPLES = BUILD / "extensions" / "samples"


def plugin(name):
    path = PLUGINS / f"{name}.so"
    if not path.exists():
        pytest.fail(f"{path} was not built")
    return str(path)


def two_vms(daemon, topo):
    """Two VMs on sw0.  vm1 knows vm2's MAC for good, so that it keeps
    sending while an extension drops everything (an unanswered ARP would
    stop the kernel from sending at all)."""
    daemon.rpc("switch.add", name="sw0")
    vm1, if1 = add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1")
    vm2, if2 = add_vm(daemon, topo, "sw0", "vm2", "198.18.0.2")
    mac2 = json.loads(sh(["ip", "-j", "link", "show", if2],
                         ns=vm2).stdout)[0]["address"]
    sh(["ip", "neigh", "replace", "198.18.0.2", "lladdr", mac2, "dev", if1,
        "nud", "permanent"], ns=vm1)
    assert ping(vm1, "198.18.0.2")
    return vm1, vm2



def flood(ns, addr, count=600):
    """Many pings at once; whether they are answered does not matter (an
    unanswered ping paces itself to 100 a second: the preload does not)."""
    sh(["ping", "-q", "-n", "-c", str(count), "-l", str(count // 2), "-i",
        "0.002", "-W", "1", addr], ns=ns, check=False, timeout=60)


# A sanitizer build: its report of a crash must survive the extension
# crash handler (issue 11).
SANITIZED = "VSW_SANITIZE:BOOL=ON" in (
    (BUILD / "CMakeCache.txt").read_text()
    if (BUILD / "CMakeCache.txt").exists() else "")


def wait_dead(daemon, timeout=15):
    assert wait_for(lambda: daemon.proc.poll() is not None, timeout=timeout), \
        "the daemon survived"


@pytest.mark.parametrize("mode", ["crash", "hang"])
def test_crash_or_hang_quarantines_until_cleared(daemon, topo, mode):
    vm1, _ = two_vms(daemon, topo)
    daemon.rpc("ext.load", path=plugin("misbehave_open"))
    daemon.rpc("ext.enable", switch="sw0", name="misbehave-open")
    daemon.rpc("ext.config", switch="sw0", name="misbehave-open",
               config={"mode": mode})
    ping(vm1, "198.18.0.2", count=1, timeout=1)
    # A crash kills the daemon at once; a hang after the watchdog's 3 s.
    wait_dead(daemon)
    log = daemon.log.read_text()
    assert "fatal signal inside extension misbehave-open" in log \
        if mode == "crash" else "misbehave-open" in log, log
    if mode == "crash" and SANITIZED:
        # The crash handler named the extension and handed the signal on:
        # the sanitizer reports the fault with the plugin's frame.
        assert "ERROR: AddressSanitizer: SEGV" in log, log
        report = log[log.index("ERROR: AddressSanitizer: SEGV"):]
        assert "misbehave_open.so" in report or \
            "misbehave_process" in report, report
        # The expected report moves aside, so the daemon fixture checks
        # what comes after it.
        daemon.log.rename(daemon.log.with_name("crash-report.log"))
    elif mode == "crash":
        assert daemon.proc.returncode == -11, daemon.proc.returncode

    daemon.start()
    entry = ext_entry(daemon, "misbehave-open")
    assert entry["state"] == "quarantined"
    # Its place on the switch is kept, not running.
    assert entry["switches"] == [{"switch": "sw0", "position": 0,
                                  "running": False, "tripped": False}]
    assert ping(vm1, "198.18.0.2")
    assert "quarantined" in daemon.log.read_text()

    # Still quarantined after another restart: nothing is forgotten.
    daemon.stop()
    daemon.start()
    assert ext_entry(daemon, "misbehave-open")["state"] == "quarantined"

    # The operator clears it (after removing the bad configuration: a
    # disable alone keeps it for the next enable).
    daemon.rpc("ext.disable", switch="sw0", name="misbehave-open",
               forget_config=True)
    daemon.ctl("ext", "unquarantine", "misbehave-open", json_out=False)
    entry = ext_entry(daemon, "misbehave-open")
    assert entry["state"] == "ready" and entry["switches"] == []
    daemon.rpc("ext.enable", switch="sw0", name="misbehave-open")
    assert ping(vm1, "198.18.0.2")
    assert ext_stats(daemon, "misbehave-open")["packets"] > 0


def test_unquarantine_refuses_a_ready_extension(daemon, topo):
    two_vms(daemon, topo)
    daemon.rpc("ext.load", path=plugin("misbehave_open"))
    with pytest.raises(RpcError, match="not quarantined"):
        daemon.rpc("ext.unquarantine", name="misbehave-open")


def test_error_storm_trips_a_fail_open_extension_which_is_bypassed(daemon,
                                                                    topo):
    vm1, _ = two_vms(daemon, topo)
    daemon.rpc("ext.load", path=plugin("misbehave_open"))
    daemon.rpc("ext.enable", switch="sw0", name="misbehave-open")
    daemon.rpc("ext.config", switch="sw0", name="misbehave-open",
               config={"mode": "error_storm"})
    flood(vm1, "198.18.0.2")
    assert wait_for(lambda: ext_stats(daemon, "misbehave-open")["tripped"],
                    timeout=5)
    stats = ext_stats(daemon, "misbehave-open")
    assert stats["errors"] >= 100
    before = stats["packets"]
    # Bypassed: traffic flows and the extension sees none of it.
    assert ping(vm1, "198.18.0.2")
    assert ext_stats(daemon, "misbehave-open")["packets"] == before
    assert ext_entry(daemon, "misbehave-open")["switches"][0]["tripped"]

    # Disable + enable closes the breaker again.
    daemon.rpc("ext.disable", switch="sw0", name="misbehave-open")
    daemon.rpc("ext.enable", switch="sw0", name="misbehave-open")
    assert not ext_stats(daemon, "misbehave-open")["tripped"]
    assert ping(vm1, "198.18.0.2")
    assert ext_stats(daemon, "misbehave-open")["packets"] > 0


def test_abort_storm_fail_open_keeps_traffic_flowing(daemon, topo):
    vm1, _ = two_vms(daemon, topo)
    daemon.rpc("ext.load", path=plugin("misbehave_open"))
    daemon.rpc("ext.enable", switch="sw0", name="misbehave-open")
    daemon.rpc("ext.config", switch="sw0", name="misbehave-open",
               config={"mode": "abort_storm"})
    # Aborted verdicts of a fail-open extension let packets through.
    assert ping(vm1, "198.18.0.2")
    assert ext_stats(daemon, "misbehave-open")["aborted"] > 0
    flood(vm1, "198.18.0.2")
    assert wait_for(lambda: ext_stats(daemon, "misbehave-open")["tripped"],
                    timeout=5)
    assert ping(vm1, "198.18.0.2")


def test_abort_storm_fail_closed_drops_its_traffic(daemon, topo):
    vm1, _ = two_vms(daemon, topo)
    daemon.rpc("ext.load", path=plugin("misbehave_closed"))
    assert ext_entry(daemon, "misbehave-closed")["fail"] == "closed"
    daemon.rpc("ext.enable", switch="sw0", name="misbehave-closed")
    daemon.rpc("ext.config", switch="sw0", name="misbehave-closed",
               config={"mode": "abort_storm"})
    assert not ping(vm1, "198.18.0.2", count=2)
    assert daemon.stats("vm1")["drops"]["ext-aborted"] > 0
    flood(vm1, "198.18.0.2")
    assert wait_for(lambda: ext_stats(daemon, "misbehave-closed")["tripped"],
                    timeout=5)
    # The breaker is open and the extension fails closed: still nothing
    # passes, now without asking it.
    assert not ping(vm1, "198.18.0.2", count=2)
    assert daemon.stats("vm1")["drops"]["ext-fail-closed"] > 0
    daemon.rpc("ext.disable", switch="sw0", name="misbehave-closed")
    assert ping(vm1, "198.18.0.2")


def test_capture_drop_verdict_is_refused_and_counted(daemon, topo):
    vm1, _ = two_vms(daemon, topo)
    daemon.rpc("ext.load", path=plugin("capture_drop"))
    daemon.rpc("ext.enable", switch="sw0", name="capture-drop")
    assert ping(vm1, "198.18.0.2")
    stats = ext_stats(daemon, "capture-drop")
    assert stats["refused"] > 0 and stats["dropped"] == 0
    assert daemon.rpc("capture-drop.report")["seen"] > 0


def test_a_second_forwarding_extension_cannot_be_enabled(daemon, topo):
    two_vms(daemon, topo)
    daemon.rpc("ext.load", path=plugin("golden_forwarding"))
    daemon.rpc("ext.load", path=str(SAMPLES / "static-forward.so"))
    daemon.rpc("ext.enable", switch="sw0", name="golden-forwarding")
    with pytest.raises(RpcError, match="at most one"):
        daemon.rpc("ext.enable", switch="sw0", name="static-forward")
    # Nothing changed.
    assert ext_entry(daemon, "static-forward")["switches"] == []
    # On another switch it is fine.
    daemon.rpc("switch.add", name="sw1")
    daemon.rpc("ext.enable", switch="sw1", name="static-forward")


def test_ingress_capture_sees_what_a_filter_then_drops(daemon, topo):
    vm1, _ = two_vms(daemon, topo)
    daemon.rpc("ext.load", path=plugin("order_capture"))
    daemon.rpc("ext.load", path=plugin("order_filter"))
    # Enabled filter first: the order between classes is fixed anyway.
    daemon.rpc("ext.enable", switch="sw0", name="order-filter")
    daemon.rpc("ext.enable", switch="sw0", name="order-capture")
    daemon.rpc("ext.config", switch="sw0", name="order-filter",
               config={"drop": "ingress"})
    assert not ping(vm1, "198.18.0.2", count=3)
    seen = daemon.rpc("order-capture.report")
    dropped = daemon.rpc("order-filter.report")
    assert seen["icmp_ingress"] >= 3
    assert dropped["ingress"] >= 3
    # Dropped on ingress: no ICMP ever reached egress.
    assert seen["icmp_egress"] == 0


def test_egress_filter_runs_before_egress_capture(daemon, topo):
    vm1, _ = two_vms(daemon, topo)
    daemon.rpc("ext.load", path=plugin("order_capture"))
    daemon.rpc("ext.load", path=plugin("order_filter"))
    daemon.rpc("ext.enable", switch="sw0", name="order-capture")
    daemon.rpc("ext.enable", switch="sw0", name="order-filter")
    daemon.rpc("ext.config", switch="sw0", name="order-filter",
               config={"drop": "egress"})
    assert not ping(vm1, "198.18.0.2", count=3)
    seen = daemon.rpc("order-capture.report")
    assert seen["icmp_ingress"] >= 3
    assert daemon.rpc("order-filter.report")["egress"] >= 3
    # Excluded by the filter before the capture stage of egress.
    assert seen["icmp_egress"] == 0
    assert daemon.stats("vm2")["drops"]["ext-filter"] >= 3

    # Without the filter's drop, egress capture sees the requests and the
    # replies.
    daemon.rpc("ext.config", switch="sw0", name="order-filter",
               config={"drop": "none"})
    assert ping(vm1, "198.18.0.2", count=3)
    assert daemon.rpc("order-capture.report")["icmp_egress"] >= 6


def test_reorder_and_disable_under_traffic(daemon, topo):
    vm1, _ = two_vms(daemon, topo)
    daemon.rpc("ext.load", path=plugin("order_capture"))
    daemon.rpc("ext.load", path=plugin("capture_drop"))
    daemon.rpc("ext.enable", switch="sw0", name="order-capture")
    daemon.rpc("ext.enable", switch="sw0", name="capture-drop")
    # Move capture-drop first, then back, then disable, while pinging.
    pinger = subprocess.Popen(
        ["ip", "netns", "exec", vm1, "ping", "-q", "-n", "-c", "300", "-i",
         "0.01", "198.18.0.2"], stdout=subprocess.PIPE, text=True)
    for position in (0, 1, 0):
        daemon.ctl("ext", "enable", "sw0", "capture-drop",
                   f"position={position}", json_out=False)
        order = {e["name"]: e["switches"][0]["position"]
                 for e in daemon.rpc("ext.list")["extensions"]}
        assert order["capture-drop"] == position
        time.sleep(0.3)
    daemon.ctl("ext", "disable", "sw0", "order-capture", json_out=False)
    out, _ = pinger.communicate(timeout=60)
    assert pinger.returncode == 0
    # Not one ping was lost across the changes.
    assert " 0% packet loss" in out, out


def test_enabled_extensions_and_their_config_survive_restarts(daemon, topo):
    vm1, _ = two_vms(daemon, topo)
    daemon.rpc("ext.load", path=plugin("order_capture"))
    daemon.rpc("ext.load", path=plugin("order_filter"))
    daemon.rpc("ext.enable", switch="sw0", name="order-filter")
    daemon.rpc("ext.enable", switch="sw0", name="order-capture", position=0)
    daemon.rpc("ext.config", switch="sw0", name="order-filter",
               config={"drop": "ingress"})
    before = daemon.rpc("ext.list")["extensions"]
    assert not ping(vm1, "198.18.0.2", count=1)

    for restart in (daemon.stop, daemon.kill9):
        restart()
        daemon.start()
        assert daemon.rpc("ext.list")["extensions"] == before
        # The filter drops again, with the configuration it was given.
        assert not ping(vm1, "198.18.0.2", count=1)
        assert daemon.rpc("order-filter.report")["ingress"] >= 1
        assert daemon.rpc("order-capture.report")["icmp_ingress"] >= 1


def test_extension_dir_loads_what_passes_the_checks(daemon_factory, topo,
                                                    tmp_path):
    extdir = tmp_path / "ext"
    extdir.mkdir()
    for name in ("order_capture", "capture_drop"):
        (extdir / f"{name}.so").write_bytes(open(plugin(name), "rb").read())
    (extdir / "order_capture.so").chmod(0o755)
    bad = extdir / "capture_drop.so"
    bad.chmod(0o775)  # group-writable: refused
    (extdir / "notes.txt").write_text("not a plugin")
    daemon = daemon_factory("extdir", start=False)
    daemon.start("--extension-dir", str(extdir))
    names = {e["name"]: e for e in daemon.rpc("ext.list")["extensions"]}
    assert list(names) == ["order-capture"]
    assert names["order-capture"]["path"] == str(extdir / "order_capture.so")
    assert "group-writable" in daemon.log.read_text()
    # Loaded once, not twice, when the directory and the configuration
    # both name it.
    daemon.stop()
    daemon.start("--extension-dir", str(extdir))
    assert [e["name"] for e in daemon.rpc("ext.list")["extensions"]] == [
        "order-capture"]


CXX_PLUGIN = r"""
#include <vswitch/extension.h>

static void
process(void *, void *, const struct vsw_ext_batch *batch)
{
    for (uint32_t i = 0; i < batch->count; i++) {
        batch->verdicts[i] = VSW_EXT_VERDICT_CONTINUE;
    }
}

static int
init(struct vsw_ext_handle *, const struct vsw_ext_host *, void **data)
{
    *data = nullptr;
    return 0;
}

static const struct vsw_ext_ops ops = {
    .size = sizeof(struct vsw_ext_ops), .reserved = 0, .fini = nullptr,
    .start = nullptr, .stop = nullptr, .configure = nullptr,
    .process = process, .port_check = nullptr, .stats = nullptr,
};

VSW_EXTENSION_DESCRIPTOR(VSW_EXT_CLASS_CAPTURE, 0, "cxx-capture", "1.0",
                         "a capture extension written in C++", &ops, init);
"""


def test_a_plugin_written_in_cpp_loads(daemon, topo, tmp_path):
    """The header and its descriptor macro work from C++ too."""
    src = tmp_path / "cxx.cpp"
    src.write_text(CXX_PLUGIN)
    so = tmp_path / "cxx_capture.so"
    sh(["g++", "-std=gnu++20", "-Wall", "-Werror", "-fPIC", "-shared",
        "-fvisibility=hidden", "-Wl,-z,defs",
        f"-I{TOP / 'extensions' / 'include'}", str(src), "-o",
        str(so)])
    exported = sh(["nm", "-D", "--defined-only", str(so)]).stdout
    assert "vsw_extension_descriptor" in exported
    vm1, _ = two_vms(daemon, topo)
    assert daemon.rpc("ext.load", path=str(so))["name"] == "cxx-capture"
    daemon.rpc("ext.enable", switch="sw0", name="cxx-capture")
    assert ping(vm1, "198.18.0.2")
    assert ext_stats(daemon, "cxx-capture")["packets"] > 0


def test_plain_frames_extension_sees_wire_frames_of_large_segments(daemon,
                                                                    topo):
    """TAP offloads let 64 KB TCP segments cross the switch whole; an
    extension that asks for plain frames gets their wire frames, with
    complete checksums, and the transfer still arrives intact."""
    vm1, vm2 = two_vms(daemon, topo)
    daemon.rpc("ext.load", path=plugin("order_capture"))
    daemon.rpc("ext.load", path=plugin("order_capture_plain"))
    daemon.rpc("ext.enable", switch="sw0", name="order-capture")
    daemon.rpc("ext.enable", switch="sw0", name="order-capture-plain")
    iperf_server(vm2, 5211)
    res = sh(["iperf3", "-c", "198.18.0.2", "-p", "5211", "-n", "32M",
              "-J"], ns=vm1, timeout=60)
    received = json.loads(res.stdout)["end"]["sum_received"]["bytes"]
    assert received >= 16 * 1024 * 1024
    # Checksums completed for the plain extension stayed right for the VM.
    assert csum_errors(vm2) == 0
    raw = daemon.rpc("order-capture.report")
    plain = daemon.rpc("order-capture-plain.report")
    # The ordinary capture saw segments larger than any wire frame...
    assert raw["gso"] > 0 and raw["max_len"] > 1518
    # ...the plain one only wire frames, none partially checksummed, and
    # so more of them.
    assert plain["gso"] == 0 and plain["csum_partial"] == 0
    assert plain["max_len"] <= 1518
    assert plain["ingress"] > raw["ingress"]
    assert ext_stats(daemon, "order-capture-plain")["aborted"] == 0


def test_veto_covers_policy_changes(daemon, topo):
    """An extension's port_check is asked before a port's settings or ACLs
    change, and its veto leaves them as they were."""
    two_vms(daemon, topo)
    daemon.rpc("ext.load", path=plugin("golden_filter"))
    daemon.rpc("ext.enable", switch="sw0", name="golden-filter")
    daemon.rpc("ext.config", switch="sw0", name="golden-filter",
               config={"veto": True})
    with pytest.raises(RpcError, match="golden veto"):
        daemon.rpc("port.set", name="vm1", **{"mac-limit": 5})
    with pytest.raises(RpcError, match="golden veto"):
        daemon.rpc("acl.add", port="vm1", action="deny", direction="in",
                   **{"remote-ip": "any"})
    with pytest.raises(RpcError, match="golden veto"):
        daemon.rpc("xacl.add", port="vm1", action="deny", direction="in",
                   weight=10)
    assert daemon.rpc("port.get", name="vm1")["mac-limit"] == 0
    assert daemon.rpc("acl.list", port="vm1")["rules"] == []
    assert daemon.rpc("xacl.list", port="vm1")["rules"] == []
    # Allowed again, the same change goes through.
    daemon.rpc("ext.config", switch="sw0", name="golden-filter", config={})
    daemon.rpc("port.set", name="vm1", **{"mac-limit": 5})
    assert daemon.rpc("port.get", name="vm1")["mac-limit"] == 5
