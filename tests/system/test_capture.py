"""vswitch-ctl capture (FEATURES.md section 6, ours): a port's or a
switch's frames to a pcap file that tcpdump reads, with direction and a
libpcap filter, live through a pipe, and a bounded buffer that drops
copies rather than slow forwarding."""

import json
import os
import select
import signal
import socket
import subprocess
import time

from conftest import VSWITCH_CTL, RpcError, add_vm, ping, sh, wait_for

MAC1, MAC2, MAC3 = "02:00:00:00:0d:01", "02:00:00:00:0d:02", \
    "02:00:00:00:0d:03"
IP1, IP2, IP3 = "198.18.5.1", "198.18.5.2", "198.18.5.3"


def vms(daemon, topo, n=2):
    """'n' VMs on switch sw0 that know each other's MACs, so that a ping
    is exactly its echo requests and replies (no ARP)."""
    daemon.rpc("switch.add", name="sw0")
    hosts = [(IP1, MAC1), (IP2, MAC2), (IP3, MAC3)][:n]
    made = [add_vm(daemon, topo, "sw0", f"vm{i}", ip, mac=mac)
            for i, (ip, mac) in enumerate(hosts, 1)]
    for ns, ifname in made:
        for ip, mac in hosts:
            sh(["ip", "neigh", "replace", ip, "lladdr", mac, "dev", ifname,
                "nud", "permanent"], ns=ns)
    return made


def ctl_cmd(daemon, *args):
    return [str(VSWITCH_CTL), "--socket", str(daemon.socket),
            *[str(a) for a in args]]


def start_capture(daemon, *args):
    """Runs 'vswitch-ctl capture ARGS' in the background, once its
    session runs."""
    before = len(daemon.rpc("capture.list")["captures"])
    proc = subprocess.Popen(ctl_cmd(daemon, "capture", *args),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    wait_for(lambda: proc.poll() is not None or
             len(daemon.rpc("capture.list")["captures"]) > before)
    assert proc.poll() is None, proc.communicate()
    return proc


def finish(proc, timeout=20):
    """(exit status, stdout, stderr) of a capture that ends by itself."""
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def interrupt(proc):
    proc.send_signal(signal.SIGINT)
    return finish(proc)


def tcpdump(path, *filter_words):
    """The lines 'tcpdump -n -r PATH' prints; fails if it cannot read."""
    res = sh(["tcpdump", "-n", "-r", str(path), *filter_words])
    return [line for line in res.stdout.splitlines() if line.strip()]


def icmp_kinds(lines):
    return ["request" if "echo request" in line else
            "reply" if "echo reply" in line else line for line in lines]


class Connection:
    """One JSON-RPC connection kept open: a capture session lives as long
    as the connection that started it."""

    def __init__(self, daemon):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(30)
        self.sock.connect(str(daemon.socket))
        self.file = self.sock.makefile("rb")
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        req = {"jsonrpc": "2.0", "id": self.next_id, "method": method,
               "params": params}
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        resp = json.loads(self.file.readline())
        if "error" in resp:
            raise RpcError(resp["error"]["code"], resp["error"]["message"])
        return resp["result"]

    def close(self):
        self.file.close()
        self.sock.close()


def test_capture_counts_the_frames_of_each_direction(daemon, topo, tmp_path):
    (ns1, _), _ = vms(daemon, topo)
    before = daemon.stats("vm1")

    # Both directions: each request vm1 sends and each reply it gets.
    path = tmp_path / "both.pcap"
    proc = start_capture(daemon, "vm1", "-w", path, "--count", 6)
    assert ping(ns1, IP2, count=3)
    rc, _, err = finish(proc)
    assert rc == 0, err
    assert "6 frames written, 0 dropped" in err
    lines = tcpdump(path)
    assert icmp_kinds(lines) == ["request", "reply"] * 3, lines
    assert all(f"{IP1} > {IP2}" in line for line in lines[0::2])
    after = daemon.stats("vm1")
    assert after["rx-packets"] - before["rx-packets"] == 3
    assert after["tx-packets"] - before["tx-packets"] == 3

    # out: only what vm1 sends; in: only what it receives.
    for direction, kind in (("out", "request"), ("in", "reply")):
        path = tmp_path / f"{direction}.pcap"
        proc = start_capture(daemon, "vm1", "-w", path, "--count", 3,
                             "--direction", direction)
        assert ping(ns1, IP2, count=3)
        rc, _, err = finish(proc)
        assert rc == 0, err
        assert icmp_kinds(tcpdump(path)) == [kind] * 3

    # What tcpdump filters out of the file matches, too.
    assert len(tcpdump(tmp_path / "both.pcap", "icmp[icmptype] == 8")) == 3
    assert wait_for(lambda: daemon.rpc("capture.list")["captures"] == [])


def test_capture_filter_copies_only_what_matches(daemon, topo, tmp_path):
    (ns1, _), _, _ = vms(daemon, topo, n=3)

    udp = tmp_path / "udp.pcap"
    proc = start_capture(daemon, "vm1", "-w", udp, "udp")
    assert ping(ns1, IP2, count=3)
    listed = daemon.rpc("capture.list")["captures"]
    assert [c["filter"] for c in listed] == ["udp"]
    rc, _, err = interrupt(proc)
    assert rc == 0, err
    assert "0 frames written" in err and "(stopped)" in err
    assert tcpdump(udp) == []

    # 'host' with the words apart, as tcpdump takes them.
    host = tmp_path / "host.pcap"
    proc = start_capture(daemon, "vm1", "-w", host, "--count", 4, "host",
                         IP3)
    assert ping(ns1, IP2, count=2)
    assert ping(ns1, IP3, count=2)
    rc, _, err = finish(proc)
    assert rc == 0, err
    lines = tcpdump(host)
    assert len(lines) == 4
    assert all(IP3 in line and IP2 not in line for line in lines), lines


def test_capture_live_pipe_into_tcpdump(daemon, topo):
    (ns1, _), _ = vms(daemon, topo)
    pipeline = subprocess.Popen(
        " ".join(ctl_cmd(daemon, "capture", "vm1", "-w", "-", "icmp")) +
        " | tcpdump -n -l -r -", shell=True, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_for(lambda: daemon.rpc("capture.list")["captures"])
        pinger = subprocess.Popen(
            ["ip", "netns", "exec", ns1, "ping", "-c", "30", "-i", "0.2",
             IP2], stdout=subprocess.DEVNULL)
        seen = []
        deadline = time.monotonic() + 5
        while len(seen) < 4 and time.monotonic() < deadline:
            ready, _, _ = select.select([pipeline.stdout], [], [], 0.5)
            if ready:
                seen.append(pipeline.stdout.readline())
        # The frames came out of tcpdump while the ping still ran.
        assert pinger.poll() is None, "ping ended before tcpdump showed it"
        assert len(seen) == 4, seen
        assert icmp_kinds(seen) == ["request", "reply"] * 2, seen
        pinger.terminate()
        pinger.wait()
    finally:
        os.killpg(pipeline.pid, signal.SIGINT)
        pipeline.communicate(timeout=20)
    assert wait_for(lambda: daemon.rpc("capture.list")["captures"] == [])


def test_capture_of_a_switch(daemon, topo, tmp_path):
    (ns1, _), _ = vms(daemon, topo)

    # By default each frame once, as it enters the switch.
    path = tmp_path / "sw.pcap"
    proc = start_capture(daemon, "sw0", "-w", path, "--count", 6, "icmp")
    listed = daemon.rpc("capture.list")["captures"]
    assert listed[0]["kind"] == "switch"
    assert listed[0]["direction"] == "out"
    assert ping(ns1, IP2, count=3)
    rc, _, err = finish(proc)
    assert rc == 0, err
    assert icmp_kinds(tcpdump(path)) == ["request", "reply"] * 3

    # 'both': entering and leaving, so each frame twice.
    path = tmp_path / "both.pcap"
    proc = start_capture(daemon, "sw0", "-w", path, "--count", 12,
                         "--direction", "both", "icmp")
    assert ping(ns1, IP2, count=3)
    rc, _, err = finish(proc)
    assert rc == 0, err
    assert icmp_kinds(tcpdump(path)) == ["request"] * 2 + ["reply"] * 2 + \
        ["request"] * 2 + ["reply"] * 2 + ["request"] * 2 + ["reply"] * 2


def test_capture_json_summary(daemon, topo, tmp_path):
    (ns1, _), _ = vms(daemon, topo)
    path = tmp_path / "j.pcap"
    proc = subprocess.Popen(
        ctl_cmd(daemon, "--format", "json", "capture", "vm2", "-w", path,
                "--count", 2, "--direction", "in"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: daemon.rpc("capture.list")["captures"])
    assert ping(ns1, IP2, count=2)
    rc, out, err = finish(proc)
    assert rc == 0, err
    summary = json.loads(out)
    assert summary["written"] == 2 and summary["drops"] == 0
    assert summary["status"] == "count-reached"
    assert summary["target"] == "vm2"


def test_capture_bad_requests_start_nothing(daemon, topo, tmp_path):
    vms(daemon, topo)
    path = tmp_path / "bad.pcap"
    res = sh(ctl_cmd(daemon, "capture", "vm1", "-w", path, "tcp port ((("),
             check=False)
    assert res.returncode == 1
    assert "filter 'tcp port (((':" in res.stderr
    assert not path.exists()
    res = sh(ctl_cmd(daemon, "capture", "nosuch", "-w", path), check=False)
    assert res.returncode == 1 and "no port or switch 'nosuch'" in res.stderr
    res = sh(ctl_cmd(daemon, "capture", "vm1"), check=False)
    assert res.returncode == 2 and "-w FILE" in res.stderr
    res = sh(ctl_cmd(daemon, "capture", "vm1", "-w", path, "--count", "x"),
             check=False)
    assert res.returncode == 2 and "--count" in res.stderr

    for params, text in (
            ({"target": "vm1", "snaplen": "300"}, "snaplen"),
            ({"target": "vm1", "count": None}, "count"),
            ({"target": "vm1", "direction": "up"}, "direction"),
            ({"target": "vm1", "buffer": 100}, "buffer"),
            ({"target": "vm1", "filter": "ip and"}, "filter 'ip and'"),
            ({"target": "vm1", "colour": "red"}, "colour"),
            ({}, "target")):
        try:
            daemon.rpc_raw("capture.start", params)
        except RpcError as e:
            assert e.code == -32602 and text in e.message, (params, e)
        else:
            raise AssertionError(f"{params} accepted")
    assert daemon.rpc("capture.list")["captures"] == []


def test_capture_session_belongs_to_its_connection(daemon, topo):
    vms(daemon, topo)
    conn = Connection(daemon)
    try:
        started = conn.call("capture.start", target="vm1")
        try:
            daemon.rpc("capture.read", id=started["id"])
        except RpcError as e:
            assert "another connection" in e.message
        else:
            raise AssertionError("read from another connection")
        # At most 16 at once.
        for _ in range(15):
            conn.call("capture.start", target="sw0")
        try:
            conn.call("capture.start", target="vm2")
        except RpcError as e:
            assert "16 captures" in e.message
        else:
            raise AssertionError("a 17th capture started")
        stopped = conn.call("capture.stop", id=started["id"])
        assert stopped["status"] == "running"
        assert len(daemon.rpc("capture.list")["captures"]) == 15
    finally:
        conn.close()
    # Its connection gone, every session it started ends.
    wait_for(lambda: daemon.rpc("capture.list")["captures"] == [])


def test_capture_of_a_removed_port_ends_cleanly(daemon, topo, tmp_path):
    (ns1, _), _ = vms(daemon, topo)
    path = tmp_path / "gone.pcap"
    proc = start_capture(daemon, "vm2", "-w", path, "icmp")
    assert ping(ns1, IP2, count=2)
    daemon.rpc("port.del", name="vm2")
    rc, _, err = finish(proc)
    assert rc == 1
    assert "capture of vm2 ended: port-removed" in err
    assert "4 frames written" in err, err
    assert icmp_kinds(tcpdump(path)) == ["request", "reply"] * 2
    assert wait_for(lambda: daemon.rpc("capture.list")["captures"] == [])


def test_killed_cli_ends_its_session(daemon, topo, tmp_path):
    vms(daemon, topo)
    proc = start_capture(daemon, "vm1", "-w", tmp_path / "k.pcap")
    assert len(daemon.rpc("capture.list")["captures"]) == 1
    proc.kill()
    proc.communicate()
    wait_for(lambda: daemon.rpc("capture.list")["captures"] == [])


def test_full_capture_buffer_drops_copies_not_frames(daemon, topo):
    (ns1, _), _ = vms(daemon, topo)
    before = daemon.stats("vm1")
    conn = Connection(daemon)
    try:
        # A reader that does not read, and a buffer of 4 KB per worker.
        started = conn.call("capture.start", target="vm1", direction="out",
                            filter="icmp", buffer=4096)
        res = sh(["ping", "-c", "200", "-i", "0.002", "-s", "1000", "-q",
                  IP2], ns=ns1)
        assert " 0% packet loss" in res.stdout, res.stdout
        frames = []
        while True:
            got = conn.call("capture.read", id=started["id"])
            if not got["frames"]:
                break
            frames += got["frames"]
        assert got["drops"] > 0
        assert len(frames) + got["drops"] == 200
        assert got["copied"] == len(frames)
        assert all(f["len"] == 1042 and f["port"] == "vm1" and
                   f["direction"] == "out" for f in frames)
    finally:
        conn.close()
    after = daemon.stats("vm1")
    # Forwarding went on: every request reached the switch and every
    # reply left it.
    assert after["rx-packets"] - before["rx-packets"] == 200
    assert after["tx-packets"] - before["tx-packets"] == 200


def test_capture_of_a_removed_switch_ends_cleanly(daemon, topo, tmp_path):
    (ns1, _), _ = vms(daemon, topo)
    path = tmp_path / "sw.pcap"
    proc = start_capture(daemon, "sw0", "-w", path, "icmp")
    assert ping(ns1, IP2, count=1)
    daemon.rpc("switch.del", name="sw0", force=True)
    rc, _, err = finish(proc)
    assert rc == 1
    assert "capture of sw0 ended: switch-removed" in err
    assert "2 frames written" in err, err
    assert icmp_kinds(tcpdump(path)) == ["request", "reply"]
    assert wait_for(lambda: daemon.rpc("capture.list")["captures"] == [])
