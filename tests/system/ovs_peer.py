"""Open vSwitch as a real peer for system tests (an LACP partner, a bond).

A private userspace Open vSwitch (Debian's openvswitch-switch): its own
database, run and log directory under a temporary directory, ovsdb-server
on a private unix socket, and ovs-vswitchd in a network namespace of its
own, so every device it creates (ovs-netdev, the bridges' internal ports)
lives and dies with that namespace.  Interfaces a test hands to OVS (the
far ends of veth pairs) are moved into that namespace.

Only one userspace Open vSwitch at a time works on the machines we run on
(MACHINE-NOTES.md), so an OvsPeer holds an exclusive lock on
/tmp/vsw-ovs.lock from start() to stop(): tests that need it serialize.

    ovs = OvsPeer(tmp_path)          # or the 'ovs' fixture, started
    ovs.start()
    ovs.add_bridge("br0")            # datapath_type=netdev
    ovs.add_bond("br0", "bond0", ["o1", "o2"], lacp="active", fast=True)
    ovs.add_port("br0", "o3")        # a plain port
    ns, ifname = ovs.add_endpoint("br0", topo, "10.1.1.1")
    ovs.lacp_show("bond0")           # parsed ovs-appctl lacp/show
    ovs.bond_show("bond0")           # parsed ovs-appctl bond/show
    ovs.stop()                       # always; the fixture does it

Every process is stopped by its pid and every file removed, also when the
test fails.  If ovs-vswitchd is not installed, the fixture skips the test.
"""

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import sh, unique

OVS_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
LOCK_PATH = "/tmp/vsw-ovs.lock"
TOOLS = ("ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl",
         "ovs-appctl")


class OvsError(Exception):
    pass


def ovs_missing():
    """The name of the first Open vSwitch program not installed, or None."""
    for tool in TOOLS:
        if not shutil.which(tool):
            return tool
    return None


def _kill(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def _wait_gone(proc, timeout):
    try:
        proc.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        return False


class OvsPeer:
    """One private Open vSwitch; see the module's documentation."""

    def __init__(self, workdir, lock_timeout=900):
        self.dir = Path(workdir) / unique("ovs")
        self.lock_timeout = lock_timeout
        self.ns = None            # namespace ovs-vswitchd runs in
        self.env = None
        self.db = None            # ovsdb-server's Popen
        self.vswitchd = None      # ovs-vswitchd's Popen
        self.lock = None          # the open lock file while running
        self.bridges = []

    # -- life ------------------------------------------------------------

    def _take_lock(self):
        self.lock = open(LOCK_PATH, "a")
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self.lock.close()
                    self.lock = None
                    raise OvsError(f"{LOCK_PATH} still held after "
                                   f"{self.lock_timeout} s")
                time.sleep(0.5)

    def _wait_file(self, path, proc, what):
        deadline = time.monotonic() + 20
        while not path.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise OvsError(f"{what} did not start; log:\n"
                               + self.log_tail(what))
            time.sleep(0.05)

    def start(self):
        """Starts ovsdb-server and ovs-vswitchd; stop() undoes all of it,
        also after a failure half-way."""
        missing = ovs_missing()
        if missing:
            raise OvsError(f"{missing} not installed (openvswitch-switch)")
        self._take_lock()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self):
        self.dir.mkdir(parents=True)
        d = str(self.dir)
        self.env = dict(os.environ, OVS_RUNDIR=d, OVS_LOGDIR=d, OVS_DBDIR=d,
                        OVS_SYSCONFDIR=d, OVS_PKGDATADIR="/usr/share/"
                        "openvswitch")
        sh(["ovsdb-tool", "create", f"{d}/conf.db", OVS_SCHEMA], env=self.env)
        self.db = subprocess.Popen(
            ["ovsdb-server", f"{d}/conf.db", f"--remote=punix:{d}/db.sock",
             f"--unixctl={d}/ovsdb-server.ctl",
             f"--pidfile={d}/ovsdb-server.pid",
             f"--log-file={d}/ovsdb-server.log", "-vconsole:off"],
            env=self.env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        self._wait_file(self.dir / "db.sock", self.db, "ovsdb-server")
        self.vsctl("--no-wait", "init")
        self.ns = unique("vsovs")
        sh(["ip", "netns", "add", self.ns])
        sh(["ip", "-n", self.ns, "link", "set", "lo", "up"])
        # "ip netns exec" execs ovs-vswitchd, so the pid is its own.
        self.vswitchd = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, "ovs-vswitchd",
             f"unix:{d}/db.sock", f"--unixctl={d}/ovs-vswitchd.ctl",
             f"--pidfile={d}/ovs-vswitchd.pid",
             f"--log-file={d}/ovs-vswitchd.log", "-vconsole:off"],
            env=self.env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        self._wait_file(self.dir / "ovs-vswitchd.ctl", self.vswitchd,
                        "ovs-vswitchd")
        # Answers once ovs-vswitchd has read the database.
        self.vsctl("--timeout=20", "show")

    def stop(self):
        """Stops both daemons by their pids (TERM, then KILL), deletes the
        namespace and the private directory, releases the lock.  Safe to
        call more than once and after a failed start()."""
        for proc in (self.vswitchd, self.db):
            if proc is None or proc.poll() is not None:
                continue
            _kill(proc.pid, signal.SIGTERM)
            if not _wait_gone(proc, 10):
                _kill(proc.pid, signal.SIGKILL)
                _wait_gone(proc, 5)
        self.vswitchd = self.db = None
        if self.ns:
            subprocess.run(["ip", "netns", "del", self.ns],
                           capture_output=True)
            self.ns = None
        if self.dir.exists():
            shutil.rmtree(self.dir, ignore_errors=True)
        if self.lock:
            fcntl.flock(self.lock, fcntl.LOCK_UN)
            self.lock.close()
            self.lock = None

    def running(self):
        return (self.vswitchd is not None and self.vswitchd.poll() is None
                and self.db is not None and self.db.poll() is None)

    def log_tail(self, which="ovs-vswitchd", lines=40):
        path = self.dir / f"{which}.log"
        try:
            return "\n".join(path.read_text(errors="replace")
                             .splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # -- commands ---------------------------------------------------------

    def vsctl(self, *args, timeout=30):
        """Runs ovs-vsctl against this database (waiting until
        ovs-vswitchd applied the change, unless --no-wait); returns its
        stdout."""
        res = sh(["ovs-vsctl", f"--db=unix:{self.dir}/db.sock",
                  f"--timeout={timeout}", *args], env=self.env,
                 timeout=timeout + 10)
        return res.stdout

    def appctl(self, *args, check=True):
        """Runs ovs-appctl against this ovs-vswitchd; returns its stdout."""
        res = sh(["ovs-appctl", "-t", f"{self.dir}/ovs-vswitchd.ctl", *args],
                 env=self.env, check=check)
        return res.stdout

    def _adopt(self, iface):
        """Moves host interface 'iface' into OVS's namespace (if it is not
        there yet) and sets it up, without IPv6 chatter."""
        if subprocess.run(["ip", "link", "show", iface],
                          capture_output=True).returncode == 0:
            sh(["ip", "link", "set", iface, "netns", self.ns])
        sh(["ip", "netns", "exec", self.ns, "sysctl", "-q", "-w",
            f"net.ipv6.conf.{iface}.disable_ipv6=1"])
        sh(["ip", "-n", self.ns, "link", "set", iface, "up"])

    def set_link(self, iface, up):
        """Sets an interface OVS uses up or down (carrier of its peer)."""
        sh(["ip", "-n", self.ns, "link", "set", iface,
            "up" if up else "down"])

    def add_bridge(self, bridge):
        """A bridge of the userspace datapath."""
        self.vsctl("add-br", bridge, "--", "set", "bridge", bridge,
                   "datapath_type=netdev")
        self.bridges.append(bridge)

    def add_port(self, bridge, iface, internal=False):
        """Adds 'iface' (a host interface, moved into OVS's namespace) as
        a plain port, or with internal=True a new internal port named
        'iface' (a TAP in OVS's namespace, up, for an IP endpoint there)."""
        if internal:
            self.vsctl("add-port", bridge, iface, "--", "set", "Interface",
                       iface, "type=internal")
            sh(["ip", "-n", self.ns, "link", "set", iface, "up"])
            return
        self._adopt(iface)
        self.vsctl("add-port", bridge, iface)

    def add_bond(self, bridge, bond, ifaces, lacp="active", bond_mode=None,
                 fast=True, other_config=None):
        """A bond of 'ifaces' (host interfaces, moved into OVS's namespace).

        lacp: "active", "passive" or "off".  bond_mode: "balance-tcp",
        "balance-slb" or "active-backup"; default balance-tcp with LACP,
        balance-slb without.  fast: lacp-time=fast (1 s LACPDUs asked of
        the partner, 3 s timeout).  other_config: more
        other_config:KEY=VALUE pairs of the Port (e.g. lacp-fallback-ab).
        """
        if len(ifaces) < 2:
            raise ValueError("a bond needs two interfaces at least")
        if bond_mode is None:
            bond_mode = "balance-slb" if lacp == "off" else "balance-tcp"
        for iface in ifaces:
            self._adopt(iface)
        settings = [f"lacp={lacp}", f"bond_mode={bond_mode}"]
        if lacp != "off":
            settings.append("other_config:lacp-time="
                            + ("fast" if fast else "slow"))
        for key, value in (other_config or {}).items():
            settings.append(f"other_config:{key}={value}")
        self.vsctl("add-bond", bridge, bond, *ifaces, *settings)

    def add_endpoint(self, bridge, topo, ip, prefix=24):
        """An IP endpoint on 'bridge': a new namespace (topo.netns) with
        address 'ip'/'prefix' on one end of a veth pair whose other end is
        a port of 'bridge'.  Returns (namespace, its interface); 'topo'
        removes both at teardown."""
        ns = topo.netns("oe")
        near, far = topo.ifname("oe"), topo.ifname("of")
        sh(["ip", "link", "add", near, "type", "veth", "peer", "name", far])
        sh(["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"], ns=ns)
        sh(["ip", "link", "set", far, "netns", ns])
        sh(["ip", "-n", ns, "addr", "add", f"{ip}/{prefix}", "dev", far])
        sh(["ip", "-n", ns, "link", "set", far, "up"])
        self.add_port(bridge, near)
        return ns, far

    def del_port(self, bridge, port):
        self.vsctl("del-port", bridge, port)

    # -- state ------------------------------------------------------------

    def lacp_show(self, bond):
        """'ovs-appctl lacp/show BOND' parsed; see parse_lacp_show()."""
        return parse_lacp_show(self.appctl("lacp/show", bond))

    def bond_show(self, bond):
        """'ovs-appctl bond/show BOND' parsed; see parse_bond_show()."""
        return parse_bond_show(self.appctl("bond/show", bond))

    def link_stats(self, iface):
        """The kernel's counters of 'iface' in OVS's namespace (at once,
        unlike OVS's statistics column, refreshed every 5 s): a dict with
        rx_packets, tx_packets, rx_bytes, tx_bytes, rx_dropped,
        tx_dropped."""
        out = sh(["ip", "-n", self.ns, "-j", "-s", "link", "show", "dev",
                  iface]).stdout
        stats = json.loads(out)[0]["stats64"]
        return {f"{d}_{k}": stats[d][k] for d in ("rx", "tx")
                for k in ("packets", "bytes", "dropped")}

    def wait_lacp(self, bond, pred, timeout=15):
        """Polls lacp_show(bond) until pred(state) is true; returns the
        state, or raises with the last one."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.lacp_show(bond)
            if pred(state):
                return state
            if time.monotonic() > deadline:
                raise AssertionError(f"lacp/show {bond} after {timeout} s: "
                                     f"{state}")
            time.sleep(0.2)


def _kv(line):
    key, _, value = line.strip().partition(":")
    return key.strip(), value.strip()


def parse_lacp_show(text):
    """Parses ovs-appctl lacp/show for one bond into:

    {"bond": name, "status": ["active", "negotiated"] (words),
     "negotiated": bool, "sys_id", "sys_priority": int, "key": int,
     "lacp_time": "fast"|"slow",
     "members": {name: {"status": "current"|"expired"|"defaulted",
                        "attached": bool, "port_id": int,
                        "port_priority": int, "may_enable": bool,
                        "actor": {"sys_id", "sys_priority", "port_id",
                                  "port_priority", "key", "state": [flags]},
                        "partner": {same}}}}

    Flags are OVS's words: activity, timeout, aggregation, synchronized,
    collecting, distributing, defaulted, expired.  Numbers are ints.
    """
    state = {"members": {}}
    member = None
    for line in text.splitlines():
        if not line.strip():
            continue
        m = re.match(r"^---- (.+) ----$", line)
        if m:
            state["bond"] = m.group(1)
            continue
        m = re.match(r"^(?:member|slave): ([^:]+):(.*)$", line)
        if m:
            words = m.group(2).split()
            member = {"status": words[0] if words else "",
                      "attached": "attached" in words,
                      "actor": {}, "partner": {}}
            state["members"][m.group(1).strip()] = member
            continue
        key, value = _kv(line)
        if member is None:
            if key == "status":
                state["status"] = value.split()
                state["negotiated"] = "negotiated" in value.split()
            elif key == "aggregation key":
                state["key"] = int(value)
            elif key == "sys_priority":
                state["sys_priority"] = int(value)
            else:
                state[key] = value
            continue
        side = None
        for prefix in ("actor ", "partner "):
            if key.startswith(prefix):
                side, key = prefix.strip(), key[len(prefix):]
        target = member[side] if side else member
        if key == "state":
            target["state"] = value.split()
        elif key in ("key", "port_id", "port_priority", "sys_priority"):
            target[key] = int(value)
        elif key == "may_enable":
            target[key] = value == "true"
        else:
            target[key] = value
    return state


def parse_bond_show(text):
    """Parses ovs-appctl bond/show for one bond into:

    {"bond": name, "bond_mode": ..., "lacp_status": ..., other top-level
     "key": "value" strings,
     "members": {name: {"enabled": bool, "active": bool (the active
                        member of active-backup or for broadcast),
                        "may_enable": bool, other "key": "value"}}}
    """
    state = {"members": {}}
    member = None
    for line in text.splitlines():
        if not line.strip():
            continue
        m = re.match(r"^---- (.+) ----$", line)
        if m:
            state["bond"] = m.group(1)
            continue
        m = re.match(r"^(?:member|slave) ([^:]+): (\w+)", line)
        if m:
            member = {"enabled": m.group(2) == "enabled", "active": False}
            state["members"][m.group(1).strip()] = member
            continue
        if member is not None and line.startswith("  "):
            text_line = line.strip()
            if text_line.startswith("active member") or \
                    text_line.startswith("active slave"):
                member["active"] = True
                continue
            key, value = _kv(line)
            if key == "may_enable":
                member[key] = value == "true"
            else:
                member[key] = value
            continue
        member = None
        key, value = _kv(line)
        state[key] = value
    return state


@pytest.fixture
def ovs(tmp_path):
    """A started OvsPeer (skips the test if Open vSwitch is missing),
    stopped after the test whatever happened."""
    missing = ovs_missing()
    if missing:
        pytest.skip(f"{missing} not installed (Debian openvswitch-switch)")
    peer = OvsPeer(tmp_path)
    try:
        peer.start()
        yield peer
    finally:
        peer.stop()
