"""The extension ABI through the running daemon: the golden plugins (built
against the frozen 1.0 header, tests/abi/golden.c) load, are driven through
every callback by real traffic and real management calls, and every
verdict has its effect; every broken plugin (tests/abi/broken.c) is refused
over JSON-RPC and the CLI with the loader's message, and changes nothing.
"""

import json
import re
import shutil

import pytest

from conftest import (BUILD, TOP, RpcError, add_vm, ext_entry, ext_stats,
                      ping, sh, wait_for)

PLUGINS = BUILD / "tests" / "abi"
HEADER = TOP / "extensions" / "include" / "vswitch" / "extension.h"
INVALID_PARAMS = -32602
EXISTS = -32002


def host_abi():
    """(major, minor) of the header the daemon was built with."""
    text = HEADER.read_text()
    major = int(re.search(r"#define VSW_EXT_ABI_MAJOR (\d+)", text)[1])
    minor = int(re.search(r"#define VSW_EXT_ABI_MINOR (\d+)", text)[1])
    return major, minor


def plugin(name):
    path = PLUGINS / f"{name}.so"
    if not path.exists():
        pytest.fail(f"{path} was not built")
    return str(path)


MAJOR, MINOR = host_abi()

# Plugin file -> what the refusal says after "PATH: ".
BROKEN = {
    "broken_newer_minor":
        f"built for ABI {MAJOR}.{MINOR + 1}, host has {MAJOR}.{MINOR}",
    "broken_wrong_major":
        f"built for ABI {MAJOR + 1}.{MINOR}, host has {MAJOR}.{MINOR}",
    "broken_bad_magic": "bad magic 0xdeadbeef (not a vswitch extension)",
    "broken_short_descriptor":
        "descriptor is 8 bytes, ABI 1.0 needs at least 64",
    "broken_no_descriptor": "no vsw_extension_descriptor symbol",
    "broken_ops_tail":
        "ops table is 104 bytes with non-zero bytes past the host's 88",
    "broken_bad_name": 'bad name "Bad Name!"',
    "broken_no_process": "no 'process' callback",
    "broken_no_init": "no 'init' function",
    "broken_bad_class": "unknown extension class 7",
    "broken_bad_flags": "unknown flag bits 0x80",
    "broken_reserved": "descriptor 'reserved' is 0x1",
    "broken_short_ops": "ops table is 16 bytes, too short",
}

CLASSES = ["capture", "filter", "forwarding"]



def report(daemon, name):
    return daemon.rpc_raw(f"{name}.report", {})


def two_vms(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    vm1, _ = add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1")
    vm2, _ = add_vm(daemon, topo, "sw0", "vm2", "198.18.0.2")
    assert ping(vm1, "198.18.0.2")
    return vm1, vm2


def tap_port(daemon, topo, name):
    """Adds a TAP port that no namespace uses; returns the params."""
    params = {"switch": "sw0", "name": name, "type": "tap",
              "ifname": topo.ifname("t")}
    daemon.rpc_raw("port.add", params)
    return params


def port_names(daemon):
    return {p["name"] for p in daemon.rpc("port.list")["ports"]}


def load_golden(daemon, cls):
    """Loads golden_<cls>.so with the CLI; returns its name."""
    res = daemon.ctl("ext", "load", plugin(f"golden_{cls}"))
    name = f"golden-{cls}"
    assert res["name"] == name and res["class"] == cls, res
    return name


# Refusals.

def test_broken_plugins_refused_over_rpc_and_nothing_changes(daemon, topo):
    two_vms(daemon, topo)
    load_golden(daemon, "filter")
    daemon.rpc("ext.enable", switch="sw0", name="golden-filter")
    before = daemon.rpc("ext.list")
    failures = []
    for file, text in BROKEN.items():
        path = plugin(file)
        try:
            daemon.rpc("ext.load", path=path)
            failures.append(f"{file}: loaded")
            continue
        except RpcError as e:
            if e.code != INVALID_PARAMS or \
                    not e.message.startswith(f"{path}: {text}"):
                failures.append(f"{file}: got {e.code} {e.message!r}, "
                                f"want {path}: {text}")
        if daemon.rpc("ext.list") != before:
            failures.append(f"{file}: ext.list changed")
    assert not failures, "\n".join(failures)
    assert daemon.running()


def test_broken_plugin_refused_by_the_cli(daemon):
    path = plugin("broken_newer_minor")
    res = daemon.ctl("ext", "load", path, check=False, json_out=False)
    assert res.returncode != 0
    assert f"{path}: {BROKEN['broken_newer_minor']}" in res.stderr
    assert daemon.rpc("ext.list")["extensions"] == []


def test_files_the_loader_refuses(daemon, tmp_path):
    good = plugin("golden_capture")
    cases = {}
    for mode, what in ((0o664, "group-writable"), (0o646, "world-writable")):
        copy = tmp_path / f"golden-{oct(mode)}.so"
        shutil.copy(good, copy)
        copy.chmod(mode)
        cases[str(copy)] = f"{what}; refusing to load it"
    other = tmp_path / "other-owner.so"
    shutil.copy(good, other)
    other.chmod(0o644)
    sh(["chown", "12345:12345", str(other)])
    cases[str(other)] = "owned by uid 12345"
    text = tmp_path / "text.so"
    text.write_text("#!/bin/sh\n")
    text.chmod(0o644)
    cases[str(text)] = "not an ELF file"
    truncated = tmp_path / "truncated.so"
    truncated.write_bytes(open(good, "rb").read(100))
    truncated.chmod(0o644)
    cases[str(truncated)] = "truncated or malformed ELF"
    cases[str(tmp_path)] = "is a directory"
    cases["golden_capture.so"] = "not an absolute path"
    for path, text in cases.items():
        with pytest.raises(RpcError) as info:
            daemon.rpc("ext.load", path=path)
        assert info.value.code == INVALID_PARAMS
        assert info.value.message.startswith(f"{path}: "), info.value.message
        assert text in info.value.message, info.value.message
    assert daemon.rpc("ext.list")["extensions"] == []
    # The same file, mode 0644 and owned by root, loads.
    ok = tmp_path / "golden-ok.so"
    shutil.copy(good, ok)
    ok.chmod(0o644)
    assert daemon.rpc("ext.load", path=str(ok))["name"] == "golden-capture"


def test_duplicate_name_refused(daemon):
    first = plugin("broken_dup_a")
    second = plugin("broken_dup_b")
    assert daemon.rpc("ext.load", path=first)["name"] == "dup-name"
    before = daemon.rpc("ext.list")
    with pytest.raises(RpcError) as info:
        daemon.rpc("ext.load", path=second)
    assert info.value.code == EXISTS
    assert "an extension named 'dup-name' is already loaded" in \
        info.value.message
    assert daemon.rpc("ext.list") == before
    assert [e["path"] for e in before["extensions"]] == [first]


def test_larger_and_smaller_ops_tables_load_and_run(daemon, topo):
    """A table longer than the host's with a zero tail, and an older
    minor's shorter one, load and run; the shorter one's 'stats' (which
    the plugin set past its declared size, and which aborts) is never
    called."""
    vm1, _ = two_vms(daemon, topo)
    for file, name in (("broken_ops_zero_tail", "broken-ops-zero-tail"),
                       ("broken_old_ops", "broken-old-ops")):
        res = daemon.rpc("ext.load", path=plugin(file))
        assert res["name"] == name and res["class"] == "filter"
        daemon.rpc("ext.enable", switch="sw0", name=name)
    assert ping(vm1, "198.18.0.2")
    for name in ("broken-ops-zero-tail", "broken-old-ops"):
        stats = ext_stats(daemon, name)
        assert stats["packets"] > 0 and stats["aborted"] == 0
        assert not stats.get("ext")
    assert daemon.running()


# The golden plugins.

@pytest.mark.parametrize("cls", CLASSES)
def test_golden_loads_and_every_callback_runs(daemon, topo, cls):
    name = load_golden(daemon, cls)
    entry = ext_entry(daemon, name)
    assert entry["class"] == cls
    assert entry["version"] == "1.0.0"
    assert entry["abi"] == "1.0"
    assert entry["fail"] == "open"
    assert entry["state"] == "ready"
    assert entry["path"] == plugin(f"golden_{cls}")
    assert entry["description"] == \
        "golden 1.0 plugin: every op, every service"
    assert entry["switches"] == []
    r = report(daemon, name)
    assert r["init"] == 1 and r["start"] == 0
    # The timer runs from init on, every 100 ms.
    wait_for(lambda: report(daemon, name)["timer"] >= 3, timeout=5)

    vm1, _ = two_vms(daemon, topo)
    daemon.ctl("ext", "enable", "sw0", name, json_out=False)
    assert ext_entry(daemon, name)["switches"][0]["switch"] == "sw0"
    assert ping(vm1, "198.18.0.2")
    r = report(daemon, name)
    assert r["start"] == 1 and r["frames_allocated"] == 1
    # What the host hands 'process' keeps the header's contract: batch
    # size, count, worker and direction; in_port set on every frame that
    # was not injected; out_port set on egress only.
    assert (r["bad_batch"], r["bad_in_port"], r["bad_out_port"]) == \
        (0, 0, 0), json.dumps(r)
    assert r["process_batches"] > 0 and r["process_packets"] > 0
    assert r["ingress"] > 0
    if cls == "forwarding":
        # Forwarding extensions see ingress batches only.
        assert r["egress"] == 0
    else:
        assert r["egress"] > 0

    # port_check: asked when a port is added.
    tap_port(daemon, topo, "vm3")
    assert report(daemon, name)["port_check"] >= 1

    # stats: called for ext.stats, and its figures come back.
    stats = ext_stats(daemon, name)
    assert stats["switch"] == "sw0" and stats["packets"] > 0
    assert stats["aborted"] == 0 and stats["dropped"] == 0
    assert stats["ext"]["packets"] > 0
    assert report(daemon, name)["stats"] >= 1
    res = daemon.ctl("ext", "stats", name, json_out=False)
    assert name in res.stdout

    # configure, and the old configuration freed through defer_free.
    daemon.ctl("ext", "config", "sw0", name, '{"verdict": "continue"}',
               json_out=False)
    assert report(daemon, name)["configure"] == 1
    wait_for(lambda: report(daemon, name)["deferred_freed"] >= 1)

    # port_lookup through the plugin's own RPC method, and the CLI.
    res = daemon.ctl("call", f"{name}.lookup", '{"port": "vm1"}')
    assert res["switch"] == "sw0" and res["is_uplink"] is False
    assert res["name"] == "vm1" and res["id"] > 0
    assert report(daemon, name)["port_lookup_ok"] >= 2
    with pytest.raises(RpcError) as info:
        daemon.rpc_raw(f"{name}.lookup", {"port": "nope"})
    assert "golden: no port nope" in info.value.message

    # stop, after disable (once no worker is inside 'process', so maybe
    # a moment later); the extension stays loaded.
    daemon.ctl("ext", "disable", "sw0", name, json_out=False)
    wait_for(lambda: report(daemon, name)["stop"] == 1, timeout=5)
    assert report(daemon, name)["start"] == 1
    assert ext_entry(daemon, name)["switches"] == []
    assert ping(vm1, "198.18.0.2")
    assert daemon.running()


@pytest.mark.parametrize("cls", ["capture", "filter"])
def test_golden_injects(daemon, topo, cls):
    name = load_golden(daemon, cls)
    vm1, _ = two_vms(daemon, topo)
    daemon.rpc("ext.enable", switch="sw0", name=name)
    daemon.rpc("ext.config", switch="sw0", name=name,
               config={"inject_every": 2})
    # Copies of requests reach vm2 too; ping still succeeds (with DUPs).
    assert ping(vm1, "198.18.0.2", count=6)
    r = report(daemon, name)
    assert r["frames_cloned"] > 0, json.dumps(r)
    assert r["injected"] > 0 and r["inject_errors"] == 0, json.dumps(r)
    assert ext_stats(daemon, name)["injected"] == r["injected"]


@pytest.mark.parametrize("cls", ["filter", "forwarding"])
def test_golden_drop_stops_traffic(daemon, topo, cls):
    name = load_golden(daemon, cls)
    vm1, _ = two_vms(daemon, topo)
    daemon.rpc("ext.enable", switch="sw0", name=name)
    daemon.rpc("ext.config", switch="sw0", name=name,
               config={"verdict": "drop"})
    assert not ping(vm1, "198.18.0.2", count=2)
    assert ext_stats(daemon, name)["dropped"] > 0
    daemon.rpc("ext.config", switch="sw0", name=name,
               config={"verdict": "continue"})
    assert ping(vm1, "198.18.0.2")


def test_golden_capture_drop_is_refused(daemon, topo):
    name = load_golden(daemon, "capture")
    vm1, _ = two_vms(daemon, topo)
    daemon.rpc("ext.enable", switch="sw0", name=name)
    daemon.rpc("ext.config", switch="sw0", name=name,
               config={"verdict": "drop"})
    assert ping(vm1, "198.18.0.2")
    stats = ext_stats(daemon, name)
    assert stats["refused"] > 0 and stats["dropped"] == 0


@pytest.mark.parametrize("verdict", ["abort", "bogus"])
@pytest.mark.parametrize("cls", CLASSES)
def test_golden_abort_and_unknown_verdicts_count_as_aborted(daemon, topo,
                                                            cls, verdict):
    name = load_golden(daemon, cls)
    vm1, _ = two_vms(daemon, topo)
    daemon.rpc("ext.enable", switch="sw0", name=name)
    daemon.rpc("ext.config", switch="sw0", name=name,
               config={"verdict": verdict})
    # Fail open: aborted packets go on.
    assert ping(vm1, "198.18.0.2")
    stats = ext_stats(daemon, name)
    assert stats["aborted"] > 0, stats
    assert stats["dropped"] == 0


def test_golden_forward_chooses_the_destination(daemon, topo):
    name = load_golden(daemon, "forwarding")
    vm1, _ = two_vms(daemon, topo)
    add_vm(daemon, topo, "sw0", "vm3", "198.18.0.3")
    vm2_id = daemon.rpc_raw(f"{name}.lookup", {"port": "vm2"})["id"]
    vm3_id = daemon.rpc_raw(f"{name}.lookup", {"port": "vm3"})["id"]
    assert vm2_id != vm3_id
    daemon.rpc("ext.enable", switch="sw0", name=name)

    # Everything to vm2 (what comes from vm2 goes where the MAC table
    # says): vm1 and vm2 still talk.
    daemon.rpc("ext.config", switch="sw0", name=name,
               config={"verdict": "forward", "dest": vm2_id})
    assert ping(vm1, "198.18.0.2")
    assert report(daemon, name)["add_dest_ok"] > 0

    # Everything to vm3: vm1's requests never reach vm2.
    daemon.rpc("ext.config", switch="sw0", name=name,
               config={"verdict": "forward", "dest": vm3_id})
    before = daemon.stats("vm3")["tx-packets"]
    assert not ping(vm1, "198.18.0.2", count=3)
    assert daemon.stats("vm3")["tx-packets"] >= before + 3


def test_golden_fail_configure_keeps_the_old_configuration(daemon, topo):
    name = load_golden(daemon, "filter")
    vm1, _ = two_vms(daemon, topo)
    daemon.rpc("ext.enable", switch="sw0", name=name)
    daemon.rpc("ext.config", switch="sw0", name=name,
               config={"verdict": "drop"})
    assert not ping(vm1, "198.18.0.2", count=2)
    with pytest.raises(RpcError) as info:
        daemon.rpc("ext.config", switch="sw0", name=name,
                   config={"verdict": "continue", "fail_configure": True})
    assert info.value.code == INVALID_PARAMS
    assert "fail_configure is set" in info.value.message
    assert report(daemon, name)["configure"] == 2
    # Still dropping.
    assert not ping(vm1, "198.18.0.2", count=2)
    # And the CLI reports the refusal too.
    res = daemon.ctl("ext", "config", "sw0", name,
                     '{"fail_configure": true}', check=False,
                     json_out=False)
    assert res.returncode != 0 and "fail_configure" in res.stderr
    # A bad verdict word is refused the same way.
    with pytest.raises(RpcError, match='unknown verdict "maybe"'):
        daemon.rpc("ext.config", switch="sw0", name=name,
                   config={"verdict": "maybe"})
    assert not ping(vm1, "198.18.0.2", count=2)


def test_golden_veto_refuses_a_port(daemon, topo):
    name = load_golden(daemon, "filter")
    two_vms(daemon, topo)
    daemon.rpc("ext.enable", switch="sw0", name=name)
    daemon.rpc("ext.config", switch="sw0", name=name, config={"veto": True})
    before = port_names(daemon)
    checks = report(daemon, name)["port_check"]
    with pytest.raises(RpcError) as info:
        tap_port(daemon, topo, "vm3")
    assert "golden veto" in info.value.message
    assert port_names(daemon) == before
    assert report(daemon, name)["port_check"] == checks + 1
    # Without the veto the same port is added.
    daemon.rpc("ext.config", switch="sw0", name=name, config={})
    tap_port(daemon, topo, "vm3")
    assert "vm3" in port_names(daemon)


def test_golden_survives_a_restart(daemon, topo):
    """Loaded extensions, where they are enabled and their configuration
    are saved: after a restart the 1.0 plugin is initialised, started with
    its configuration and runs again."""
    name = load_golden(daemon, "filter")
    vm1, _ = two_vms(daemon, topo)
    daemon.rpc("ext.enable", switch="sw0", name=name)
    daemon.rpc("ext.config", switch="sw0", name=name,
               config={"verdict": "drop"})
    assert not ping(vm1, "198.18.0.2", count=2)
    daemon.stop()
    daemon.start()
    entry = ext_entry(daemon, name)
    assert entry["state"] == "ready"
    assert [s["switch"] for s in entry["switches"]] == ["sw0"]
    r = report(daemon, name)
    assert r["init"] == 1 and r["start"] == 1
    assert not ping(vm1, "198.18.0.2", count=2)
    assert ext_stats(daemon, name)["dropped"] > 0
