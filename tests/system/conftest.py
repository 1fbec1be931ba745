"""Fixtures for system tests: a real vswitchd, real namespaces, real traffic.

Every kernel-visible name (namespace, interface) carries a run id, so runs
never collide, and everything a test creates is removed at teardown even
when the test fails: the daemon is stopped, the namespace pins it keeps in
its state directory are unmounted, namespaces and leftover TAP devices are
deleted.  When the daemon under test was built with sanitizers, a report in
its log fails the test.
"""

import json
import os
import random
import signal
import socket
import string
import subprocess
import time
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("VSW_BUILD_DIR", TOP / "build" / "release"))
VSWITCHD = BUILD / "vswitchd" / "vswitchd"
VSWITCH_CTL = BUILD / "cli" / "vswitch-ctl"

def pytest_configure(config):
    # scripts/test.sh runs the release and the ASan suites side by side,
    # then the tests marked serial alone: those that measure a rate, count
    # lost pings or wait on protocol timers, which a busy CPU would skew.
    config.addinivalue_line(
        "markers",
        "serial: measures rates, losses or timers; runs with nothing beside it",
    )


RUN_ID = "".join(random.choices(string.ascii_lowercase + string.digits, k=4))
_counter = 0


def unique(prefix):
    """A name no other test or run uses, short enough for an interface."""
    global _counter
    _counter += 1
    name = f"{prefix}{RUN_ID}{_counter}"
    assert len(name) <= 15, name
    return name


def sh(cmd, check=True, timeout=60, ns=None, **kw):
    """Runs 'cmd' (a list or a shell string), optionally inside netns 'ns'."""
    if isinstance(cmd, str):
        cmd = ["sh", "-c", cmd]
    if ns:
        cmd = ["ip", "netns", "exec", ns] + cmd
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                         **kw)
    if check and res.returncode != 0:
        raise AssertionError(
            f"{cmd} exited {res.returncode}\nstdout: {res.stdout}\n"
            f"stderr: {res.stderr}")
    return res


def csum_errors(ns):
    """TCP segments the namespace's kernel refused for a bad checksum."""
    lines = sh(["cat", "/proc/net/snmp"], ns=ns).stdout.splitlines()
    tcp = [line.split() for line in lines if line.startswith("Tcp:")]
    return int(tcp[1][tcp[0].index("InCsumErrors")])


def ext_entry(daemon, name):
    """The ext.list entry of extension 'name'."""
    for e in daemon.rpc("ext.list")["extensions"]:
        if e["name"] == name:
            return e
    raise AssertionError(f"{name} not in ext.list")


def ext_stats(daemon, name, switch="sw0"):
    """The ext.stats entry of extension 'name' on 'switch'."""
    for entry in daemon.rpc("ext.stats", name=name)["stats"]:
        if entry["switch"] == switch:
            return entry
    raise AssertionError(f"{name} not enabled on {switch}")


class RpcError(Exception):
    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Daemon:
    """One vswitchd on a private state directory."""

    def __init__(self, state_dir, netns=None):
        self.state_dir = Path(state_dir)
        # A "host" of its own: the daemon runs inside this namespace.
        self.netns = netns
        self.socket = self.state_dir / "vswitchd.sock"
        self.log = self.state_dir.parent / f"{self.state_dir.name}.log"
        self.proc = None
        self._id = 0

    def start(self, *extra, workers=2):
        self.state_dir.mkdir(parents=True, exist_ok=True)
        cmd = [str(VSWITCHD), "--state-dir", str(self.state_dir),
               "--log-file", str(self.log), "--workers", str(workers),
               *extra]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns] + cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "a"))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"vswitchd exited {self.proc.returncode}:\n"
                    + self.log.read_text())
            try:
                self.rpc("system.status")
                return self
            except (OSError, RpcError):
                time.sleep(0.05)
        raise AssertionError("vswitchd did not start serving in 20 s")

    def stop(self):
        """SIGTERM and wait; returns the exit status."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("vswitchd ignored SIGTERM for 30 s")
        return self.proc.returncode if self.proc else 0

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def rpc(self, method, **params):
        """Calls 'method' with 'params' (underscores become dashes)."""
        params = {k.replace("_", "-"): v for k, v in params.items()}
        return self.rpc_raw(method, params)

    def rpc_raw(self, method, params):
        self._id += 1
        req = {"jsonrpc": "2.0", "id": self._id, "method": method,
               "params": params}
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(30)
            s.connect(str(self.socket))
            s.sendall(json.dumps(req).encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        resp = json.loads(buf)
        if "error" in resp:
            raise RpcError(resp["error"]["code"], resp["error"]["message"])
        return resp["result"]

    def ctl(self, *args, check=True, json_out=True):
        """Runs vswitch-ctl against this daemon; parses --format json."""
        cmd = [str(VSWITCH_CTL), "--socket", str(self.socket)]
        if json_out:
            cmd += ["--format", "json"]
        res = sh(cmd + [str(a) for a in args], check=check)
        if json_out and res.returncode == 0 and res.stdout.strip():
            return json.loads(res.stdout)
        return res

    def stats(self, port):
        return self.rpc("port.stats", name=port)["ports"][0]

    def sanitizer_report(self):
        text = self.log.read_text() if self.log.exists() else ""
        for marker in ("AddressSanitizer", "LeakSanitizer",
                       "UndefinedBehaviorSanitizer", "runtime error:",
                       "ThreadSanitizer"):
            if marker in text:
                return text
        return None

    def unpin_all(self):
        pins = self.state_dir / "netns"
        if pins.is_dir():
            for pin in pins.iterdir():
                while subprocess.run(["umount", "-l", str(pin)],
                                     capture_output=True).returncode == 0:
                    pass


class Topology:
    """Namespaces and interfaces a test creates, removed at teardown."""

    def __init__(self):
        self.namespaces = []
        self.links = []

    def netns(self, label="ns"):
        name = unique(f"vs{label[:3]}")
        sh(["ip", "netns", "add", name])
        sh(["ip", "-n", name, "link", "set", "lo", "up"])
        self.namespaces.append(name)
        return name

    def ifname(self, label="t"):
        name = unique(f"v{label[:2]}")
        self.links.append(name)
        return name

    def veth(self):
        """A veth pair; the first end, which stays in the daemon's
        namespace as an uplink, is kept out of the host's IP stack so the
        host never answers for the switch's segment."""
        a, b = self.ifname("ua"), self.ifname("ub")
        sh(["ip", "link", "add", a, "type", "veth", "peer", "name", b])
        sh(["sysctl", "-q", "-w", f"net.ipv6.conf.{a}.disable_ipv6=1"])
        sh(["sysctl", "-q", "-w", f"net.ipv4.conf.{a}.arp_ignore=8"])
        sh(["ip", "link", "set", a, "up"])
        return a, b

    def cleanup(self):
        for ns in self.namespaces:
            # A program a test left in the namespace (an iperf3 server
            # whose client never came) would keep it alive unnamed.
            pids = subprocess.run(["ip", "netns", "pids", ns],
                                  capture_output=True, text=True).stdout
            for pid in pids.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        for link in self.links:
            subprocess.run(["ip", "link", "del", link], capture_output=True)


@pytest.fixture
def topo():
    t = Topology()
    yield t
    t.cleanup()


@pytest.fixture
def daemon_factory(tmp_path, topo):
    """Makes daemons (started) whose state lives under tmp_path."""
    daemons = []

    def make(name="state", start=True, netns=None, **kw):
        d = Daemon(tmp_path / name, netns=netns)
        daemons.append(d)
        if start:
            d.start(**kw)
        return d

    yield make
    failures = []
    for d in daemons:
        rc = d.stop()
        report = d.sanitizer_report()
        if report:
            failures.append(f"sanitizer report in {d.log}:\n{report}")
        elif rc not in (0, -signal.SIGKILL, None):
            failures.append(f"vswitchd exited {rc}; log:\n"
                            + d.log.read_text())
        d.unpin_all()
    # Pins are gone, so deleting the namespaces destroys the TAPs in them.
    topo.cleanup()
    if failures:
        pytest.fail("\n".join(failures))


@pytest.fixture
def daemon(daemon_factory):
    return daemon_factory()


def add_vm(daemon, topo, switch, port, ip=None, vlan=None, mac=None,
           prefix=24, **settings):
    """A "VM": a TAP port whose netdev lives in its own namespace, added
    with 'settings' too (offloads=False...).

    Returns (namespace, ifname).
    """
    ifname = topo.ifname("t")
    params = {"switch": switch, "name": port, "type": "tap",
              "ifname": ifname, **settings}
    if mac:
        params["mac"] = mac
    daemon.rpc_raw("port.add", params)
    if vlan is not None:
        daemon.rpc("port.set", name=port, vlan_mode="access", vlan=vlan)
    ns = topo.netns("vm")
    # IPv6 autoconfiguration would add multicast chatter that makes
    # counting frames unreliable.
    sh(["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"], ns=ns)
    sh(["sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1"], ns=ns)
    # The TAP appears where the daemon runs (its host's namespace).
    sh(["ip", "link", "set", ifname, "netns", ns], ns=daemon.netns)
    if ip:
        sh(["ip", "-n", ns, "addr", "add", f"{ip}/{prefix}", "dev", ifname])
    sh(["ip", "-n", ns, "link", "set", ifname, "up"])
    return ns, ifname


def ping(ns, addr, count=3, timeout=1):
    """True if 'addr' answers from namespace 'ns'."""
    res = sh(["ping", "-c", str(count), "-i", "0.2", "-W", str(timeout),
              addr], ns=ns, check=False)
    return res.returncode == 0


def wait_for(pred, timeout=10, interval=0.1):
    """Polls 'pred' until it returns a true value; returns it, or fails."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def iperf_server(ns, port=5201):
    """A one-shot iperf3 server in 'ns', listening when this returns: a
    client started before it listens is refused, and one that reaches the
    previous one-shot server on the same port while it closes fails."""
    sh(["iperf3", "-s", "-D", "-1", "-p", str(port)], ns=ns)
    assert wait_for(lambda: sh(["ss", "-Hltn", f"sport = :{port}"],
                               ns=ns).stdout.strip(), timeout=10), \
        f"iperf3 server on port {port} in {ns} not listening"


def iperf_rates(server_ns, server_ip, clients, seconds=6):
    """Runs one TCP iperf3 client per (namespace, port, extra arguments)
    of 'clients' at once, each to its own one-shot server on that port in
    'server_ns'.  Returns each client's received rate in bit/s, leaving
    out the first second (slow start)."""
    servers = [subprocess.Popen(["ip", "netns", "exec", server_ns, "iperf3",
                                 "-s", "-1", "-p", str(port)],
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
               for _, port, _ in clients]
    try:
        for _, port, _ in clients:
            assert wait_for(lambda: sh(["ss", "-Hltn", f"sport = :{port}"],
                                       ns=server_ns).stdout.strip(),
                            timeout=5)
        procs = [subprocess.Popen(["ip", "netns", "exec", ns, "iperf3", "-c",
                                   server_ip, "-p", str(port), *extra, "-t",
                                   str(seconds), "-O", "1", "-J"],
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
                 for ns, port, extra in clients]
        rates = []
        for p in procs:
            out, err = p.communicate(timeout=seconds + 30)
            assert p.returncode == 0, err + out
            report = json.loads(out)
            rates.append(report["end"]["sum_received"]["bits_per_second"])
        return rates
    finally:
        for s in servers:
            if s.poll() is None:
                s.kill()
            s.wait()
