"""Extensions 1.1 life cycle (issue 15): `ext unload` of a running, a
failed, a missing and a quarantined extension, a missing file at start
(one warning, state `missing`, back with `ext load`), and the circuit
breaker and disable/enable keeping the configuration."""

import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import VSWITCHD, RpcError, ext_stats, ping, wait_for
from test_ext_lifecycle import SAMPLES, flood, plugin, two_vms, wait_dead


def names(daemon):
    return [e["name"] for e in daemon.rpc("ext.list")["extensions"]]


def entry_of(daemon, name):
    found = [e for e in daemon.rpc("ext.list")["extensions"]
             if e["name"] == name]
    assert found, f"{name} not in ext.list"
    return found[0]


def saved(daemon):
    return json.loads((daemon.state_dir / "config.json").read_text())


def saved_binding(daemon, switch, name):
    for sw in saved(daemon)["switches"]:
        if sw["name"] == switch:
            for b in sw.get("extensions", []):
                if b["name"] == name:
                    return b
    return None


def private_copy(tmp_path, name):
    """A copy of plugin 'name' the test may remove or spoil."""
    path = tmp_path / f"{name}.so"
    shutil.copyfile(plugin(name), path)
    path.chmod(0o644)
    return str(path)


def test_unload_a_running_extension(daemon, topo):
    vm1, _ = two_vms(daemon, topo)
    daemon.rpc("ext.load", path=plugin("misbehave_open"))
    daemon.rpc("ext.enable", switch="sw0", name="misbehave-open")
    daemon.rpc("ext.config", switch="sw0", name="misbehave-open",
               config={"mode": "ok"})
    assert ping(vm1, "198.18.0.2")
    assert daemon.rpc("misbehave-open.report")["packets"] > 0

    daemon.ctl("ext", "unload", "misbehave-open", json_out=False)
    assert "misbehave-open" not in names(daemon)
    # Its method went with it; traffic goes on without it.
    with pytest.raises(RpcError, match="unknown method"):
        daemon.rpc("misbehave-open.report")
    assert ping(vm1, "198.18.0.2")
    cfg = saved(daemon)
    assert all(e["name"] != "misbehave-open" for e in cfg["extensions"])
    assert saved_binding(daemon, "sw0", "misbehave-open") is None
    assert wait_for(lambda: "extension misbehave-open unloaded"
                    in daemon.log.read_text(), timeout=5)

    # Forgotten across a restart; loadable again under the same name,
    # with its method back.
    daemon.stop()
    daemon.start()
    assert "misbehave-open" not in names(daemon)
    daemon.rpc("ext.load", path=plugin("misbehave_open"))
    daemon.rpc("ext.enable", switch="sw0", name="misbehave-open")
    assert ping(vm1, "198.18.0.2")
    assert daemon.rpc("misbehave-open.report")["packets"] > 0


def test_unload_errors_change_nothing(daemon, topo):
    two_vms(daemon, topo)
    daemon.rpc("ext.load", path=plugin("misbehave_open"))
    with pytest.raises(RpcError, match="no extension 'nope' is loaded"):
        daemon.rpc("ext.unload", name="nope")
    with pytest.raises(RpcError, match="unknown parameter .force."):
        daemon.rpc("ext.unload", name="misbehave-open", force=True)
    with pytest.raises(RpcError):
        daemon.rpc("ext.unload", name=1)
    assert entry_of(daemon, "misbehave-open")["state"] == "ready"


def test_missing_file_at_start_warns_once_and_comes_back(daemon, topo,
                                                         tmp_path):
    vm1, _ = two_vms(daemon, topo)
    path = private_copy(tmp_path, "misbehave_open")
    daemon.rpc("ext.load", path=path)
    daemon.rpc("ext.enable", switch="sw0", name="misbehave-open")
    daemon.rpc("ext.config", switch="sw0", name="misbehave-open",
               config={"mode": "ok"})
    daemon.stop()
    moved = tmp_path / "aside.so"
    shutil.move(path, moved)

    daemon.start()
    entry = entry_of(daemon, "misbehave-open")
    assert entry["state"] == "missing"
    assert entry["switches"] == [{"switch": "sw0", "position": 0,
                                  "running": False, "tripped": False}]
    log = daemon.log.read_text()
    assert log.count("is missing; kept as 'missing'") == 1, log
    assert "err: config: extension misbehave-open" not in log, log
    assert ping(vm1, "198.18.0.2")

    # The file is back: `ext load` takes the kept place and configuration.
    shutil.move(moved, path)
    daemon.rpc("ext.load", path=path)
    entry = entry_of(daemon, "misbehave-open")
    assert entry["state"] == "ready"
    assert entry["switches"] == [{"switch": "sw0", "position": 0,
                                  "running": True, "tripped": False}]
    assert saved_binding(daemon, "sw0", "misbehave-open")["config"] == \
        {"mode": "ok"}
    assert ping(vm1, "198.18.0.2")
    assert daemon.rpc("misbehave-open.report")["packets"] > 0


def test_unload_missing_and_failed_placeholders(daemon, topo, tmp_path):
    two_vms(daemon, topo)
    missing = private_copy(tmp_path, "misbehave_open")
    spoiled = private_copy(tmp_path, "misbehave_closed")
    daemon.rpc("ext.load", path=missing)
    daemon.rpc("ext.load", path=spoiled)
    daemon.rpc("ext.enable", switch="sw0", name="misbehave-closed")
    daemon.stop()
    (tmp_path / "misbehave_open.so").unlink()
    (tmp_path / "misbehave_closed.so").chmod(0o664)  # refused: g+w

    daemon.start()
    assert entry_of(daemon, "misbehave-open")["state"] == "missing"
    assert entry_of(daemon, "misbehave-closed")["state"] == "failed"
    daemon.rpc("ext.unload", name="misbehave-open")
    daemon.ctl("ext", "unload", "misbehave-closed", json_out=False)
    assert names(daemon) == []
    assert saved(daemon)["extensions"] == []
    assert saved_binding(daemon, "sw0", "misbehave-closed") is None
    size = len(daemon.log.read_text())
    daemon.stop()
    daemon.start()
    assert names(daemon) == []
    assert "misbehave" not in daemon.log.read_text()[size:]


def test_unload_a_quarantined_extension(daemon, topo):
    vm1, _ = two_vms(daemon, topo)
    daemon.rpc("ext.load", path=plugin("misbehave_open"))
    daemon.rpc("ext.enable", switch="sw0", name="misbehave-open")
    daemon.rpc("ext.config", switch="sw0", name="misbehave-open",
               config={"mode": "crash"})
    ping(vm1, "198.18.0.2", count=1, timeout=1)
    wait_dead(daemon)
    if "ERROR: AddressSanitizer" in daemon.log.read_text():
        # The expected report moves aside (the fixture checks the rest).
        daemon.log.rename(daemon.log.with_name("crash-report.log"))
    daemon.start()
    assert entry_of(daemon, "misbehave-open")["state"] == "quarantined"

    daemon.rpc("ext.unload", name="misbehave-open")
    assert names(daemon) == []
    assert ping(vm1, "198.18.0.2")
    daemon.stop()
    daemon.start()
    assert names(daemon) == []
    # Not quarantined any more: it loads at once.
    daemon.rpc("ext.load", path=plugin("misbehave_open"))
    assert entry_of(daemon, "misbehave-open")["state"] == "ready"


def test_breaker_reset_keeps_the_configuration(daemon, topo):
    vm1, _ = two_vms(daemon, topo)
    daemon.rpc("ext.load", path=plugin("misbehave_closed"))
    daemon.rpc("ext.enable", switch="sw0", name="misbehave-closed")
    daemon.rpc("ext.config", switch="sw0", name="misbehave-closed",
               config={"mode": "error_storm"})
    flood(vm1, "198.18.0.2")
    assert wait_for(lambda: ext_stats(daemon, "misbehave-closed")["tripped"],
                    timeout=5)
    # Fail closed: its traffic drops while the breaker is open.
    assert not ping(vm1, "198.18.0.2", count=2, timeout=1)
    # Reset is refused on a switch it is not enabled on, changing nothing.
    with pytest.raises(RpcError, match="no switch|not found|sw9"):
        daemon.rpc("ext.reset", switch="sw9", name="misbehave-closed")
    assert ext_stats(daemon, "misbehave-closed")["tripped"]

    daemon.rpc("ext.config", switch="sw0", name="misbehave-closed",
               config={"mode": "ok"})
    before = ext_stats(daemon, "misbehave-closed")["packets"]
    daemon.ctl("ext", "reset", "misbehave-closed", "sw0", json_out=False)
    assert not ext_stats(daemon, "misbehave-closed")["tripped"]
    assert ping(vm1, "198.18.0.2")
    assert ext_stats(daemon, "misbehave-closed")["packets"] > before
    # The configuration it had is the one it has.
    assert daemon.rpc("misbehave-closed.report")["mode"] == "ok"
    assert saved_binding(daemon, "sw0", "misbehave-closed")["config"] == \
        {"mode": "ok"}
    # A reset of a closed breaker is no error and changes nothing.
    daemon.rpc("ext.reset", switch="sw0", name="misbehave-closed")
    assert not ext_stats(daemon, "misbehave-closed")["tripped"]


def test_disable_enable_keeps_the_configuration(daemon, topo):
    vm1, _ = two_vms(daemon, topo)
    daemon.rpc("ext.load", path=plugin("misbehave_open"))
    daemon.rpc("ext.enable", switch="sw0", name="misbehave-open")
    daemon.rpc("ext.config", switch="sw0", name="misbehave-open",
               config={"mode": "abort_storm"})
    daemon.ctl("ext", "disable", "sw0", "misbehave-open", json_out=False)
    assert saved_binding(daemon, "sw0", "misbehave-open") is None
    # Kept across a restart too.
    daemon.stop()
    daemon.start()
    daemon.rpc("ext.enable", switch="sw0", name="misbehave-open")
    assert daemon.rpc("misbehave-open.report")["mode"] == "abort_storm"
    assert saved_binding(daemon, "sw0", "misbehave-open")["config"] == \
        {"mode": "abort_storm"}

    # --forget-config: the next enable starts from {}.
    daemon.ctl("ext", "disable", "--forget-config", "sw0", "misbehave-open",
               json_out=False)
    daemon.rpc("ext.enable", switch="sw0", name="misbehave-open")
    assert daemon.rpc("misbehave-open.report")["mode"] == "ok"
    assert saved_binding(daemon, "sw0", "misbehave-open")["config"] == {}
    with pytest.raises(RpcError):
        daemon.rpc("ext.disable", switch="sw0", name="misbehave-open",
                   **{"forget-config": "yes"})
    assert ping(vm1, "198.18.0.2")


def test_cp_over_a_loaded_plugin_changes_nothing(daemon, topo, tmp_path):
    """A plain `cp` of another build over the loaded file, under traffic:
    the daemon runs a private copy, so nothing changes until a reload."""
    vm1, _ = two_vms(daemon, topo)
    path = private_copy(tmp_path, "misbehave_open")
    daemon.rpc("ext.load", path=path)
    daemon.rpc("ext.enable", switch="sw0", name="misbehave-open")
    copies = list((daemon.state_dir / "ext-loaded").iterdir())
    assert (daemon.state_dir / "ext-loaded").stat().st_mode & 0o777 == 0o700
    assert len(copies) == 1 and copies[0].name.endswith("-misbehave_open.so")
    assert copies[0].stat().st_mode & 0o777 == 0o400

    pinger = subprocess.Popen(
        ["ip", "netns", "exec", vm1, "ping", "-n", "-q", "-i", "0.01", "-c",
         "300", "198.18.0.2"], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        # Another plugin's build, written over the very inode the daemon
        # loaded from (cp truncates and rewrites it).
        subprocess.run(["cp", str(SAMPLES / "dnsblock.so"), path], check=True)
        out, _ = pinger.communicate(timeout=30)
    finally:
        if pinger.poll() is None:
            pinger.kill()
            pinger.wait()
    assert " 0% packet loss" in out, out
    assert daemon.proc.poll() is None
    entry = entry_of(daemon, "misbehave-open")
    assert entry["state"] == "ready" and entry["fail"] == "open"
    assert daemon.rpc("misbehave-open.report")["packets"] >= 300
    assert ping(vm1, "198.18.0.2")

    # Unloading removes the private copy.
    daemon.rpc("ext.unload", name="misbehave-open")
    assert wait_for(lambda: not list(
        (daemon.state_dir / "ext-loaded").iterdir()), timeout=5)


def test_crash_is_logged_and_blamed_under_detach(daemon_factory, topo):
    """A detached daemon with --log-file: the crash handler's line lands in
    the log file (stderr is /dev/null), naming the extension it was in and
    the one whose code faulted."""
    d = daemon_factory(name="detached", start=False)
    d.state_dir.mkdir(parents=True)
    pidfile = d.state_dir.parent / "detached.pid"
    subprocess.run([str(VSWITCHD), "--state-dir", str(d.state_dir),
                    "--log-file", str(d.log), f"--pidfile={pidfile}",
                    "--detach", "--workers", "2"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True, timeout=30)
    pid = int(pidfile.read_text())
    try:
        assert wait_for(lambda: d.socket.exists(), timeout=20)
        vm1, _ = two_vms(d, topo)
        d.rpc("ext.load", path=plugin("misbehave_open"))
        d.rpc("ext.enable", switch="sw0", name="misbehave-open")
        d.rpc("ext.config", switch="sw0", name="misbehave-open",
              config={"mode": "crash"})
        ping(vm1, "198.18.0.2", count=1, timeout=1)
        assert wait_for(lambda: not os.path.exists(f"/proc/{pid}"),
                        timeout=15), "the daemon survived"
    finally:
        if os.path.exists(f"/proc/{pid}"):
            os.kill(pid, signal.SIGKILL)
    log = d.log.read_text()
    line = [x for x in log.splitlines() if "fatal signal" in x]
    assert line, log
    assert "fatal signal inside extension misbehave-open" in line[0], line
    assert "in extension misbehave-open" in line[0].split("; pc")[1], line
    assert (d.state_dir / "ext-crash").read_text() == "misbehave-open\n"
    if "ERROR: AddressSanitizer" in log:
        d.log.rename(d.log.with_name("crash-report.log"))


def vm_mac(ns):
    """The MAC of the VM's interface in namespace 'ns'."""
    links = json.loads(subprocess.run(
        ["ip", "-n", ns, "-j", "link", "show"], check=True,
        capture_output=True, text=True).stdout)
    return [x["address"] for x in links if x["ifname"] != "lo"][0]


# One extension of each class, with a configuration that passes traffic.
RELOAD_CASES = {
    "filter": ("misbehave-open", "misbehave_open"),
    "capture": ("pcap-capture", "pcap-capture"),
    "forwarding": ("static-forward", "static-forward"),
}


@pytest.mark.serial  # counts lost pings
@pytest.mark.parametrize("ext_class", sorted(RELOAD_CASES))
def test_reload_under_traffic_loses_no_ping(daemon, topo, tmp_path,
                                            ext_class):
    """`ext reload` of a running extension of each class while vm1 pings
    every 10 ms and a TCP transfer runs: no ping lost, the transfer's
    bytes arrive intact, the counters go on, the configuration stays."""
    vm1, vm2 = two_vms(daemon, topo)
    name, file = RELOAD_CASES[ext_class]
    path = tmp_path / f"{file}.so"
    shutil.copyfile(plugin(file) if name == "misbehave-open"
                    else SAMPLES / f"{file}.so", path)
    path.chmod(0o644)
    path = str(path)
    config = {
        "filter": {"mode": "ok"},
        "capture": {},
        "forwarding": {"entries": [{"mac": vm_mac(vm1), "port": "vm1"},
                                   {"mac": vm_mac(vm2), "port": "vm2"}]},
    }[ext_class]
    daemon.rpc("ext.load", path=path)
    daemon.rpc("ext.enable", switch="sw0", name=name)
    daemon.rpc("ext.config", switch="sw0", name=name, config=config)
    assert ping(vm1, "198.18.0.2")
    payload = tmp_path / "payload"
    payload.write_bytes(os.urandom(8 << 20))
    received = tmp_path / "received"
    server = subprocess.Popen(
        ["ip", "netns", "exec", vm2, "/usr/bin/python3", "-c",
         "import socket,sys\n"
         "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, "
         "socket.SO_REUSEADDR, 1); s.bind(('198.18.0.2', 5201)); s.listen()\n"
         "c,_=s.accept(); f=open(sys.argv[1],'wb')\n"
         "while True:\n"
         "    b=c.recv(65536)\n"
         "    if not b: break\n"
         "    f.write(b)\n", str(received)])
    pinger = subprocess.Popen(
        ["ip", "netns", "exec", vm1, "ping", "-n", "-q", "-i", "0.01", "-c",
         "300", "198.18.0.2"], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.3)
        sender = subprocess.Popen(
            ["ip", "netns", "exec", vm1, "/usr/bin/python3", "-c",
             "import socket,sys,time\n"
             "s=socket.create_connection(('198.18.0.2', 5201))\n"
             "d=open(sys.argv[1],'rb').read()\n"
             "for i in range(0, len(d), 65536):\n"
             "    s.sendall(d[i:i+65536]); time.sleep(0.002)\n"
             "s.close()\n", str(payload)])
        time.sleep(0.3)
        before = ext_stats(daemon, name)["packets"]
        for _ in range(3):
            daemon.ctl("ext", "reload", name, json_out=False)
            time.sleep(0.2)
        assert sender.wait(timeout=60) == 0
        assert server.wait(timeout=30) == 0
        out, _ = pinger.communicate(timeout=30)
    finally:
        for p in (pinger, server):
            if p.poll() is None:
                p.kill()
                p.wait()
    assert " 0% packet loss" in out, out
    assert received.read_bytes() == payload.read_bytes()
    assert ext_stats(daemon, name)["packets"] > before
    if name == "misbehave-open":
        assert daemon.rpc("misbehave-open.report")["mode"] == "ok"
    assert saved_binding(daemon, "sw0", name)["config"] == config
    assert daemon.log.read_text().count(f"{name}: 1.0 replaced") == 3
    # The old versions' private copies went with them.
    assert wait_for(lambda: len(list(
        (daemon.state_dir / "ext-loaded").iterdir())) == 1, timeout=5)


def test_reload_to_a_broken_file_keeps_the_old_one(daemon, topo, tmp_path):
    vm1, _ = two_vms(daemon, topo)
    path = private_copy(tmp_path, "misbehave_open")
    daemon.rpc("ext.load", path=path)
    daemon.rpc("ext.enable", switch="sw0", name="misbehave-open")
    daemon.rpc("ext.config", switch="sw0", name="misbehave-open",
               config={"mode": "ok"})
    with pytest.raises(RpcError, match="built for ABI"):
        daemon.rpc("ext.reload", name="misbehave-open",
                   path=plugin("broken_wrong_major"))
    with pytest.raises(RpcError, match="not filter extension"):
        daemon.rpc("ext.reload", name="misbehave-open",
                   path=str(SAMPLES / "pcap-capture.so"))
    with pytest.raises(RpcError, match="holds filter extension "
                       "'misbehave-closed'"):
        daemon.rpc("ext.reload", name="misbehave-open",
                   path=plugin("misbehave_closed"))
    with pytest.raises(RpcError):
        daemon.rpc("ext.reload", name="misbehave-open", path=7)
    entry = entry_of(daemon, "misbehave-open")
    assert entry["state"] == "ready" and entry["path"] == path
    assert ping(vm1, "198.18.0.2")
    assert daemon.rpc("misbehave-open.report")["packets"] > 0
    assert "replaced" not in daemon.log.read_text()


@pytest.mark.parametrize("name", ["pcap-capture", "static-forward",
                                  "dnsblock"])
def test_unload_each_sample(daemon, topo, name):
    """The samples use timers and methods; unloading one while it runs
    (its 'stop' and 'fini' after the grace period) keeps the daemon up."""
    vm1, _ = two_vms(daemon, topo)
    daemon.rpc("ext.load", path=str(SAMPLES / f"{name}.so"))
    daemon.rpc("ext.enable", switch="sw0", name=name)
    ping(vm1, "198.18.0.2", count=1, timeout=1)
    daemon.rpc("ext.unload", name=name)
    assert wait_for(lambda: f"extension {name} unloaded"
                    in daemon.log.read_text(), timeout=5)
    assert ping(vm1, "198.18.0.2")
    assert names(daemon) == []
    daemon.rpc("ext.load", path=str(SAMPLES / f"{name}.so"))
    assert entry_of(daemon, name)["state"] == "ready"
