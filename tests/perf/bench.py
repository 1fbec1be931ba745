#!/usr/bin/python3
"""vswitch benchmark: vswitch side by side with its peers, in one run.

Two network namespaces ("VMs"), one interface each, addresses in
198.18.N.0/24 (the range RFC 2544 sets aside for benchmarking), traffic only
between them, through one of these switches ("peers"):

  vswitch   build/release/vswitchd/vswitchd --workers 2, two TAP ports
  bridge    the Linux bridge with veth pairs (in-kernel: the ceiling)
  ovs-tso   Open vSwitch, userspace datapath (netdev), type=tap ports,
            other_config:userspace-tso-enable=true
  ovs       the same without TSO

Workloads: iperf3 TCP 1 and 4 streams, 64-byte UDP packet rate (trafgen,
paced by a TBF qdisc on the sender's interface, ladder + bisection of
offered rates), ping latency, CPU seconds of the switch per Gbit and per
million packets, and (vswitch only) scale: 1 000 TAP ports and 100 000 MAC
entries.  Prints one table with "vswitch / peer" ratios and writes the same
as JSON.  See docs/performance.md.

Policy (vswitch only), as more vswitch peers in the same run, measured
interleaved with the others:

  vswitch-policy    1 000 ACL rules on each VM port (allow/deny on remote
                    /24 and /32 prefixes the traffic does not hit, one
                    allow rule it does, meters), DHCP and router guard, IP
                    guard with the VM's address, MAC spoofing guard on the
                    MAC assigned at port.add: TCP, ping and UDP again, and
                    the ratio policy on / policy off
  vswitch-acl-few   10 ACL rules per port        } 64-byte UDP rate only:
  vswitch-acl-many  --lookup-rules rules per port}  is the lookup cost flat?
  vswitch-mirror    port mirroring: vm1 a mirror source, a third TAP port
                    (its namespace drops what it gets) the destination:
                    TCP, ping and UDP again, and the ratio mirror on / off
  vswitch-metering  metering on both VM ports with four meter rules each
                    (in and out, the VMs' /24 and a wider prefix): TCP,
                    ping and UDP, and the ratio metering on / off
  vswitch-shaped    both VM ports shaped to max-bandwidth=1G: TCP 1 and 4
                    streams, and the shaper's accuracy (wire rate / 1G)
  vswitch-baseline  with --baseline-build DIR: an older build's vswitchd,
                    plain ports, so that this build's ratio to it (target
                    >= 0.95) is measured in the same run
  vswitch-ext       the pcap-capture sample extension enabled on the
                    switch (every port, both directions, 1 packet in
                    EXT_SAMPLE kept): 64-byte UDP rate only, and the
                    ratio extension on / off
  vswitch-policy-old, vswitch-ext-old
                    with --baseline-build DIR: the same two on the older
                    build, so that the policy and extension ratios are
                    shown before and after in one run (the flow cache
                    for ports with ACLs and switches with extensions)

Naming a variant in --only (--only vswitch,vswitch-shaped) runs only the
variants named.

Run as root: ./tests/perf/run [--quick] [--only vswitch,bridge,...]
Standalone: imports nothing from the project's tests.
"""

import argparse
import atexit
import datetime
import errno
import fcntl
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
DEFAULT_JSON = TOP / "tests" / "perf" / "results" / "latest.json"
QUICK_JSON = TOP / "tests" / "perf" / "results" / "quick.json"
PEERS = ["vswitch", "bridge", "ovs-tso", "ovs"]
PEER_TITLES = {
    "vswitch": "vswitch",
    "bridge": "Linux bridge",
    "ovs-tso": "OVS userspace TSO",
    "ovs": "OVS userspace",
    "vswitch-policy": "vswitch-policy",
    "vswitch-acl-few": "vswitch-acl-few",
    "vswitch-acl-many": "vswitch-acl-many",
    "vswitch-mirror": "vswitch-mirror",
    "vswitch-metering": "vswitch-metering",
    "vswitch-shaped": "vswitch-shaped",
    "vswitch-baseline": "vswitch-baseline",
    "vswitch-ext": "vswitch-ext",
    "vswitch-policy-old": "vswitch-policy-old",
    "vswitch-ext-old": "vswitch-ext-old",
}
# vswitch again with port policy, peers of their own ("variants"): the
# third octet of their subnet, and whether they run the TCP and ping
# rounds (the lookup-cost pair only measures the packet rate).
VARIANTS = {
    "vswitch-policy": {"subnet": 6, "tag": "vp", "rounds": True},
    "vswitch-acl-few": {"subnet": 7, "tag": "vf", "rounds": False},
    "vswitch-acl-many": {"subnet": 8, "tag": "va", "rounds": False},
    "vswitch-mirror": {"subnet": 9, "tag": "vm", "rounds": True},
    "vswitch-metering": {"subnet": 10, "tag": "vg", "rounds": True},
    "vswitch-shaped": {"subnet": 12, "tag": "vs", "rounds": True},
    "vswitch-baseline": {"subnet": 13, "tag": "vb", "rounds": True},
    "vswitch-ext": {"subnet": 14, "tag": "vx", "rounds": False},
    # The older build (--baseline-build) with what the name before "-old"
    # adds.
    "vswitch-policy-old": {"subnet": 15, "tag": "vpo", "rounds": True},
    "vswitch-ext-old": {"subnet": 16, "tag": "vxo", "rounds": False},
}
# vswitch-ext: the capture extension keeps one packet in this many.
EXT_SAMPLE = 1000
# The rate "vswitch-shaped" gives its VM ports (max-bandwidth, bit/s).
SHAPED_RATE = 1_000_000_000
OVS_LOCK = "/tmp/vsw-ovs.lock"
OVS_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
CLK_TCK = os.sysconf("SC_CLK_TCK")
FRAME_LEN = 60  # a 64-byte Ethernet frame without its FCS
MAX_ACLS_PER_PORT = 16384  # vswitchd/manager-acl.c, MGR_MAX_ACLS_PER_PORT
# Drop reasons (port.stats) that only port policy can cause.
POLICY_DROPS = ("mac-spoofing", "guard-too-many-vlans", "ip-guard",
                "dhcp-guard", "dhcpv6-guard", "router-guard",
                "router-guard-redirect", "ipv6-chain-incomplete",
                "ipv6-unknown-next-header", "nd-fragment", "storm-limit",
                "fragment-overlap", "xacl-deny", "acl-deny")

# Every kernel-visible name this run creates starts with PREFIX, so names
# never collide with another run and the final sweep can find leftovers.
PREFIX = f"pf{os.getpid()}"
OURS = re.compile(rf"^{PREFIX}(?!\d)")  # not pf1234's when we are pf123


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr,
          flush=True)


class BenchError(Exception):
    pass


# ---------------------------------------------------------------------------
# Running commands, cleaning up


def sh(cmd, check=True, timeout=60, ns=None, env=None, input=None):
    """Runs 'cmd' (a list), optionally inside namespace 'ns'."""
    if ns:
        cmd = ["ip", "netns", "exec", ns] + list(cmd)
    try:
        res = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=timeout, env=env, input=input)
    except subprocess.TimeoutExpired as e:
        raise BenchError(f"{' '.join(cmd)}: timed out after {timeout} s") \
            from e
    if check and res.returncode != 0:
        raise BenchError(f"{' '.join(cmd)} exited {res.returncode}: "
                         f"{(res.stderr or res.stdout).strip()[-600:]}")
    return res


def spawn(cmd, ns=None, env=None, stdout=subprocess.DEVNULL,
          stderr=subprocess.DEVNULL):
    """Starts 'cmd' in its own process group (so helpers it forks can be
    killed with it)."""
    if ns:
        cmd = ["ip", "netns", "exec", ns] + list(cmd)
    return subprocess.Popen(cmd, stdout=stdout, stderr=stderr, env=env,
                            start_new_session=True)


def kill_group(proc, sig=signal.SIGTERM, wait=10):
    """Stops 'proc' and its process group: 'sig', then SIGKILL."""
    if proc is None:
        return
    for s, w in ((sig, wait), (signal.SIGKILL, 5)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, s)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=w)
            break
        except subprocess.TimeoutExpired:
            continue
    # The group may outlive its leader (trafgen's forked senders).
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Janitor:
    """A stack of undo actions, unwound in reverse order: by each stage of
    the run when it is done (or failed), and at exit (atexit, signals) for
    whatever is left."""

    def __init__(self):
        self.stack = []

    def add(self, desc, fn):
        self.stack.append((desc, fn))

    def mark(self):
        return len(self.stack)

    def unwind(self, mark=0):
        while len(self.stack) > mark:
            desc, fn = self.stack.pop()
            try:
                fn()
            except Exception as e:  # keep cleaning whatever happens
                log(f"cleanup '{desc}' failed: {e}")


JANITOR = Janitor()


def sweep_leftovers():
    """Last resort: deletes any namespace or link named with this run's
    prefix."""
    res = sh(["ip", "netns", "list"], check=False)
    for line in res.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if OURS.match(name):
            sh(["ip", "netns", "del", name], check=False)
    res = sh(["ip", "-j", "link", "show"], check=False)
    try:
        links = json.loads(res.stdout or "[]")
    except ValueError:
        links = []
    names = [link["ifname"] for link in links
             if OURS.match(link.get("ifname", ""))]
    if names:
        sh(["ip", "-force", "-batch", "-"], check=False, timeout=300,
           input="".join(f"link del {n}\n" for n in names))


def final_cleanup():
    JANITOR.unwind()
    sweep_leftovers()


def on_signal(signum, _frame):
    # Clean up once, undisturbed by further signals.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    log(f"signal {signum}: cleaning up")
    raise SystemExit(128 + signum)


# ---------------------------------------------------------------------------
# Measurements from /proc and /sys


def proc_cpu_seconds(pids):
    """utime + stime of the processes 'pids' (all their threads)."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def host_busy_seconds():
    """CPU seconds all cores spent not idle, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def link_stats(ns, ifname):
    """The interface's counters as seen inside namespace 'ns'."""
    res = sh(["ip", "-n", ns, "-j", "-s", "link", "show", "dev", ifname],
             timeout=10)
    st = json.loads(res.stdout)[0]["stats64"]
    return {"rx_packets": st["rx"]["packets"], "rx_dropped": st["rx"]["dropped"],
            "tx_packets": st["tx"]["packets"], "tx_dropped": st["tx"]["dropped"]}


def link_mac(ns, ifname):
    res = sh(["ip", "-n", ns, "-j", "link", "show", "dev", ifname], timeout=10)
    return json.loads(res.stdout)[0]["address"]


def offloads(ns, ifname):
    """'tso on, csum on'-style summary of the VM interface's offloads."""
    res = sh(["ethtool", "-k", ifname], ns=ns, check=False, timeout=10)
    feats = {}
    for line in res.stdout.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            feats[k.strip()] = v.strip().split()[0] if v.strip() else ""
    return (f"tso {feats.get('tcp-segmentation-offload', '?')}, "
            f"tx-csum {feats.get('tx-checksumming', '?')}")


def git_describe():
    res = sh(["git", "-C", str(TOP), "describe", "--always", "--dirty"],
             check=False)
    return res.stdout.strip() or "unknown"


# ---------------------------------------------------------------------------
# VMs


class VM:
    def __init__(self, ns, ifname, ip, assigned_mac=None):
        self.ns, self.ifname, self.ip = ns, ifname, ip
        self.mac = None
        self.assigned_mac = assigned_mac  # the switch port's MAC, if any


def make_ns(name):
    sh(["ip", "netns", "add", name])
    JANITOR.add(f"netns {name}",
                lambda: sh(["ip", "netns", "del", name], check=False))
    sh(["ip", "-n", name, "link", "set", "lo", "up"])
    # No IPv6: its autoconfiguration chatter would add frames to the counts.
    for key in ("all", "default"):
        sh(["sysctl", "-q", "-w", f"net.ipv6.conf.{key}.disable_ipv6=1"],
           ns=name)
    return name


def configure_vm(vm):
    sh(["ip", "-n", vm.ns, "link", "set", vm.ifname, "up"])
    sh(["ip", "-n", vm.ns, "addr", "add", f"{vm.ip}/24", "dev", vm.ifname])
    vm.mac = link_mac(vm.ns, vm.ifname)
    check_vm_mac(vm)


def check_vm_mac(vm):
    """A port with an assigned MAC (and the MAC spoofing guard) forwards
    only what its VM sends from that MAC: the VM's interface must have
    it."""
    if vm.assigned_mac and vm.mac.lower() != vm.assigned_mac.lower():
        raise BenchError(f"{vm.ns}: {vm.ifname} has MAC {vm.mac}, not the "
                         f"port's assigned {vm.assigned_mac}")


def wait_ping(src, dst, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        res = sh(["ping", "-c", "1", "-W", "1", dst.ip], ns=src.ns,
                 check=False, timeout=10)
        if res.returncode == 0:
            return
        time.sleep(0.2)
    raise BenchError(f"{src.ns} cannot ping {dst.ip} through the switch")


# ---------------------------------------------------------------------------
# Peers


class Peer:
    key = None
    subnet = 0  # third octet of 198.18.N.0/24

    def __init__(self, args, workdir):
        self.args = args
        self.workdir = workdir
        self.vm1 = self.vm2 = None
        self.notes = []

    def ip(self, host):
        return f"198.18.{self.subnet}.{host}"

    def setup(self):
        raise NotImplementedError

    def switch_pids(self):
        """Processes whose CPU time is the switch's; [] if in-kernel."""
        return []

    def cpu_na_reason(self):
        return None

    def in_rounds(self):
        """True if the peer runs the TCP and ping rounds."""
        return True

    def check(self):
        """After the workloads: a dict of checks of the peer's state
        (raises BenchError if one fails)."""
        return {}

    def finish(self):
        """Called before teardown: collect notes (logs, warnings)."""


class VswitchPeer(Peer):
    """vswitchd with two TAP ports.  'variant' (a key of VARIANTS, or
    None) adds port policy: "vswitch-policy" assigns the ports' MACs at
    port.add and applies apply_policy(); "vswitch-acl-few" and
    "vswitch-acl-many" add only ACL rules, args.lookup_few and
    args.lookup_rules per port."""

    def __init__(self, args, workdir, variant=None):
        super().__init__(args, workdir)
        # The "-old" variants are their namesakes on the older build.
        self.old_build = bool(variant) and variant.endswith("-old")
        self.variant = variant[:-len("-old")] if self.old_build \
            else variant
        self.key = variant or "vswitch"
        self.subnet = VARIANTS[variant]["subnet"] if variant else 1
        self.tag = VARIANTS[variant]["tag"] if variant else "vt"
        self.daemon = None
        self.info = {}  # results of setting up (rule counts, times)
        self.plans = {}  # port -> [(acl.add params, [rule ids])]

    def setup(self):
        binary = self.args.baseline_vswitchd \
            if self.variant == "vswitch-baseline" or self.old_build \
            else self.args.vswitchd
        self.daemon = Vswitchd(binary, self.workdir / self.key)
        self.daemon.start(workers=self.args.workers)
        self.daemon.rpc("switch.add", {"name": "sw0"})
        vms = []
        for i in (1, 2):
            ifname = f"{PREFIX}{self.tag}{i}"
            mac = f"02:00:c6:12:{self.subnet:02x}:{i:02x}" \
                if self.variant == "vswitch-policy" else None
            vm = VM(make_ns(f"{PREFIX}-{self.tag}{i}"), ifname, self.ip(i),
                    assigned_mac=mac)
            self.daemon.add_tap("sw0", f"vm{i}", ifname, mac=mac)
            sh(["ip", "link", "set", ifname, "netns", vm.ns])
            configure_vm(vm)
            vms.append(vm)
        self.vm1, self.vm2 = vms
        self.notes.append(f"--workers {self.args.workers}")
        if self.variant == "vswitch-policy":
            self.apply_policy(self.args.policy_rules)
        elif self.variant == "vswitch-acl-few":
            self.add_rules(self.args.lookup_few)
        elif self.variant == "vswitch-acl-many":
            self.add_rules(self.args.lookup_rules,
                           time_limit=self.args.rule_time_limit)
        elif self.variant == "vswitch-mirror":
            self.add_mirror()
        elif self.variant == "vswitch-metering":
            self.apply_metering()
        elif self.variant == "vswitch-ext":
            self.add_capture_extension()
        elif self.variant == "vswitch-shaped":
            for port in ("vm1", "vm2"):
                self.daemon.rpc("port.set", {"name": port,
                                             "max-bandwidth": SHAPED_RATE})
            self.notes.append(f"VM ports: max-bandwidth={SHAPED_RATE}")

    def add_capture_extension(self):
        """The pcap-capture sample extension on sw0, every port, both
        directions, sampling 1 in EXT_SAMPLE: each frame visits it."""
        build = Path(self.args.baseline_build) if self.old_build \
            else Path(self.args.build)
        so = build / "extensions" / "samples" / "pcap-capture.so"
        res = self.daemon.rpc("ext.load", {"path": str(so)})
        if res.get("state") != "ready":
            raise BenchError(f"ext.load {so}: {res}")
        self.daemon.rpc("ext.enable", {"switch": "sw0",
                                       "name": "pcap-capture"})
        self.daemon.rpc("ext.config", {
            "switch": "sw0", "name": "pcap-capture",
            "config": {"file": str(self.workdir / f"{self.key}.pcap"),
                       "direction": "both", "sample": EXT_SAMPLE}})
        self.notes.append(f"pcap-capture on sw0, sample 1 in {EXT_SAMPLE}")

    def add_mirror(self):
        """A third TAP port, up in a namespace of its own with no
        address (its kernel drops the copies), as the mirror destination
        of vm1's traffic, both directions."""
        ifname = f"{PREFIX}{self.tag}m"
        ns = make_ns(f"{PREFIX}-{self.tag}m")
        self.daemon.add_tap("sw0", "mon", ifname)
        sh(["ip", "link", "set", ifname, "netns", ns])
        sh(["ip", "-n", ns, "link", "set", ifname, "up"])
        self.daemon.rpc("port.set", {"name": "mon", "mirror": "destination"})
        self.daemon.rpc("port.set", {"name": "vm1", "mirror": "source"})
        self.notes.append("mirror: vm1 source, a third TAP port 'mon' "
                          "destination")

    # Meter rules of the metering variant, per port: the VMs' /24 takes
    # the test traffic, the wider prefixes split what else there is.
    def meter_rules(self):
        return [("in", f"198.18.{self.subnet}.0/24"), ("in", "0.0.0.0/0"),
                ("out", f"198.18.{self.subnet}.0/24"),
                ("out", "10.0.0.0/8")]

    def apply_metering(self):
        """Metering on both ports, with meter_rules() on each."""
        for port in ("vm1", "vm2"):
            self.daemon.rpc("acl.add", {"port": port, "rules": [
                {"action": "meter", "direction": d, "remote-ip": ip}
                for d, ip in self.meter_rules()]})
            self.daemon.rpc("metering.enable", {"port": port})
        self.notes.append(f"metering on both VM ports, "
                          f"{len(self.meter_rules())} meter rules each")

    def check_metering(self):
        """The test traffic was metered: each port's meters on the VMs'
        /24 counted it, in both directions."""
        out = {}
        for port in ("vm1", "vm2"):
            shown = self.daemon.rpc("metering.show", {"port": port})
            for m in shown["meters"]:
                if m["match"] == f"remote-ip 198.18.{self.subnet}.0/24":
                    out[f"{port}_{m['direction']}_metered_bytes"] = \
                        m["bytes"]
        missing = [k for k in (f"{p}_{d}_metered_bytes"
                               for p in ("vm1", "vm2") for d in ("in", "out"))
                   if not out.get(k)]
        if missing:
            raise BenchError(f"metering check: nothing metered on "
                             f"{', '.join(missing)}")
        self.notes.append("metered: " + ", ".join(
            f"{k.replace('_metered_bytes', '')} {v / 1e9:.2f} GB"
            for k, v in sorted(out.items())))
        return out
    def wire_bytes(self):
        """Bytes the switch has delivered to vm2, headers included (what
        a shaper counts)."""
        return self.daemon.rpc("port.stats",
                               {"name": "vm2"})["ports"][0]["tx-bytes"]

    def apply_policy(self, rules):
        """Guards on both ports (the ports' MACs were assigned at
        port.add), then 'rules' ACL rules per port (add_rules)."""
        for port, vm in (("vm1", self.vm1), ("vm2", self.vm2)):
            self.daemon.rpc("port.set", {
                "name": port, "dhcp-guard": True, "router-guard": True,
                "mac-spoofing": False, "allowed-ips": vm.ip})
            got = self.daemon.rpc("port.get", {"name": port})
            got = got.get("port", got)
            want = {"dhcp-guard": True, "router-guard": True,
                    "mac-spoofing": False, "allowed-ips": vm.ip,
                    "mac": vm.assigned_mac}
            wrong = {k: got.get(k) for k, v in want.items()
                     if got.get(k) != v}
            if wrong:
                raise BenchError(f"port.get {port}: {wrong}, wanted {want}")
        self.notes.append("guards: dhcp-guard, router-guard, allowed-ips = "
                          "the VM's address, MAC spoofing off with the "
                          "port's MAC assigned")
        self.add_rules(rules)

    def add_rules(self, count, time_limit=None):
        """Adds 'count' ACL rules (acl_plan()) to each of the two ports, in
        acl.add requests of up to RULES_PER_RPC plan entries ("rules"),
        alternating the ports so both always have the same rules.  With
        'time_limit' (seconds), stops at the first request past it and says
        so."""
        d = self.daemon
        plan = acl_plan(count, self.subnet)
        ports = ("vm1", "vm2")
        self.plans = {p: [] for p in ports}
        rules = rpcs = 0
        stopped = False
        log(f"{self.key}: adding {count} ACL rules to each of 2 ports "
            f"({len(plan)} acl.add per port)")
        t0 = time.monotonic()
        next_log = 1000
        try:
            for start in range(0, len(plan), RULES_PER_RPC):
                chunk = plan[start:start + RULES_PER_RPC]
                n = sum(k for _, k in chunk)
                if time_limit and time.monotonic() - t0 > time_limit:
                    stopped = True
                    break
                for port in ports:
                    ids = d.rpc("acl.add", {
                        "port": port,
                        "rules": [params for params, _ in chunk]},
                        timeout=120)["ids"]
                    rpcs += 1
                    if len(ids) != n:
                        raise BenchError(f"acl.add of {len(chunk)} entries "
                                         f"made {len(ids)} rules, expected "
                                         f"{n}")
                    for params, k in chunk:
                        self.plans[port].append((params, ids[:k]))
                        ids = ids[k:]
                rules += n
                if rules >= next_log:
                    log(f"{self.key}: {rules} rules per port in "
                        f"{time.monotonic() - t0:.1f} s")
                    next_log += 1000
        finally:
            secs = time.monotonic() - t0
            self.info.update({
                "acl_rules_requested": count, "acl_rules_per_port": rules,
                "acl_add_rpcs": rpcs, "acl_add_seconds": round(secs, 2),
                "acl_add_stopped": stopped})
        for port in ports:
            have = len(d.rpc("acl.list", {"port": port}, timeout=120)[
                "rules"])
            if have != rules:
                raise BenchError(f"acl.list {port}: {have} rules, added "
                                 f"{rules}")
        log(f"{self.key}: {rules_added_text(self.info)}")

    def in_rounds(self):
        return not self.variant or VARIANTS[self.variant]["rounds"]

    def check(self):
        """With policy: the test traffic's verdict was "allow" all along
        (no deny rule and no guard dropped anything, the allow rule and the
        meter counted it) and the VMs kept their MACs.  With a mirror: the
        destination got copies of all vm1 sent and received."""
        if not self.variant:
            return {}
        if self.variant == "vswitch-baseline":
            return {"build": self.args.baseline_build}
        if self.variant == "vswitch-mirror":
            return self.check_mirror()
        if self.variant == "vswitch-metering":
            return self.check_metering()
        if self.variant == "vswitch-ext":
            return {"build": self.args.baseline_build if self.old_build
                    else self.args.build}
        if self.variant == "vswitch-shaped":
            drops = self.daemon.rpc("port.stats", {"name": "vm1"})[
                "ports"][0]["drops"]
            return {"shaper_drops": drops.get("qos-queue-full")}
        d = self.daemon
        out = {"deny_rule_packets": 0, "allow_rule_packets": 0,
               "meter_any_packets": 0, "policy_drops": {}}
        for port, vm in (("vm1", self.vm1), ("vm2", self.vm2)):
            if vm.assigned_mac:
                vm.mac = link_mac(vm.ns, vm.ifname)
                check_vm_mac(vm)
            listed = {r["id"]: r for r in d.rpc(
                "acl.list", {"port": port}, timeout=120)["rules"]}
            for params, ids in self.plans.get(port, []):
                pkts = sum(listed[i]["packets"] for i in ids if i in listed)
                if params["action"] == "deny":
                    out["deny_rule_packets"] += pkts
                elif params["remote-ip"] == f"198.18.{self.subnet}.0/24":
                    out["allow_rule_packets"] += pkts
                elif params["action"] == "meter" and \
                        params["remote-ip"] == "any":
                    out["meter_any_packets"] += pkts
            drops = d.rpc("port.stats", {"name": port})["ports"][0]["drops"]
            unknown = [r for r in POLICY_DROPS if r not in drops]
            if unknown:
                raise BenchError(f"port.stats {port} has no drop reason "
                                 f"{', '.join(unknown)}: POLICY_DROPS is "
                                 "out of date")
            for reason in POLICY_DROPS:
                if drops.get(reason):
                    out["policy_drops"][f"{port} {reason}"] = drops[reason]
        problems = []
        if out["deny_rule_packets"]:
            problems.append(f"deny rules matched {out['deny_rule_packets']} "
                            "packets")
        if out["policy_drops"]:
            problems.append(f"policy drops {out['policy_drops']}")
        if self.plans and not out["allow_rule_packets"]:
            problems.append("the allow rule for the traffic counted nothing")
        if self.plans and not out["meter_any_packets"]:
            problems.append("the meter rule on any counted nothing")
        verdict = "allow" if not problems else "NOT allow: " + \
            "; ".join(problems)
        out["policy_verdict"] = verdict
        self.notes.append(
            f"test traffic's verdict: {verdict} (allow rule counted "
            f"{out['allow_rule_packets']} packets, meter on any "
            f"{out['meter_any_packets']}, deny rules "
            f"{out['deny_rule_packets']}, policy drops "
            f"{sum(out['policy_drops'].values())})")
        if problems:
            raise BenchError(f"policy check: {verdict}")
        return out

    def check_mirror(self):
        """Every packet vm1 sent or received has its copy on 'mon'
        (copies 'mon' refused count as drops there), but for what 'mon'
        got itself."""
        def stats(port):
            return self.daemon.rpc("port.stats", {"name": port})["ports"][0]
        vm1, mon = stats("vm1"), stats("mon")
        out = {"mirror_tx_packets": mon["mirror-tx-packets"],
               "mirror_drops": mon["drops-total"],
               "vm1_packets": vm1["rx-packets"] - vm1["drops-total"] +
               vm1["tx-packets"]}
        copies = out["mirror_tx_packets"] + out["mirror_drops"]
        self.notes.append(f"mirror copies sent {out['mirror_tx_packets']}, "
                          f"dropped {out['mirror_drops']}, for "
                          f"{out['vm1_packets']} packets of vm1")
        # Broadcasts (ARP) reach 'mon' by flooding, with no copy.
        if copies < 0.99 * out["vm1_packets"] - 100:
            raise BenchError(f"mirror check: {copies} copies for "
                             f"{out['vm1_packets']} packets of vm1")
        return out

    def switch_pids(self):
        return [self.daemon.proc.pid]

    def finish(self):
        self.daemon.check_log(self.notes)


def rules_added_text(info):
    """One line on how the rules of a policy variant were added."""
    rules, rpcs = info["acl_rules_per_port"], info["acl_add_rpcs"]
    secs = info["acl_add_seconds"]
    text = (f"{rules} rules on each of 2 ports: {rpcs} acl.add RPCs in "
            f"{secs:.1f} s ({1000 * secs / max(rpcs, 1):.1f} ms per RPC)")
    if info["acl_add_stopped"]:
        text += (f"; STOPPED at the time limit (--rule-time-limit), "
                 f"{info['acl_rules_requested']} were asked for")
    if secs > 120:
        text += "; FINDING: more than 2 minutes"
    return text



# Plan entries per acl.add request: a port's policy goes in a few commits,
# not one per rule (each commit saves the whole configuration).
RULES_PER_RPC = 500


def acl_plan(count, subnet, seed=5):
    """The ACL rules of one port of the peer whose VMs are in
    198.18.'subnet'.0/24, as [(acl.add params without the port, number of
    rules it makes)], making 'count' rules in all:

      allow both remote-ip 198.18.S.0/24     2 rules: the test traffic's
      meter both remote-ip any               2: counts the test traffic
      meter out remote-ip 192.0.2.0/24       1 } other traffic
      meter in remote-ip 198.51.100.0/24     1 }
      count - 6 rules, one each: remote /24s in 10.0.0.0/8 and remote /32s
      in 172.16.0.0/12 (half each, distinct, random), 2 deny to 1 allow,
      directions in and out alternating, in random order

    None of the last two groups matches the test traffic (198.18.0.0/15),
    so its verdict stays "allow"."""
    fixed = [
        ({"action": "allow", "direction": "both",
          "remote-ip": f"198.18.{subnet}.0/24"}, 2),
        ({"action": "meter", "direction": "both", "remote-ip": "any"}, 2),
        ({"action": "meter", "direction": "out",
          "remote-ip": "192.0.2.0/24"}, 1),
        ({"action": "meter", "direction": "in",
          "remote-ip": "198.51.100.0/24"}, 1),
    ]
    n = count - sum(r for _, r in fixed)
    if n < 0:
        raise BenchError(f"at least {count - n} ACL rules per port, "
                         f"not {count}")
    rng = random.Random(seed)
    n24 = (n + 1) // 2
    prefixes = [f"10.{v >> 8}.{v & 255}.0/24"
                for v in rng.sample(range(1 << 16), n24)]
    prefixes += [f"172.{16 + (v >> 16)}.{(v >> 8) & 255}.{v & 255}/32"
                 for v in rng.sample(range(1 << 20), n - n24)]
    rng.shuffle(prefixes)
    return fixed + [({"action": "allow" if i % 3 == 2 else "deny",
                      "direction": "in" if i % 2 else "out",
                      "remote-ip": prefix}, 1)
                    for i, prefix in enumerate(prefixes)]


class Vswitchd:
    """One vswitchd (foreground child) on a private state directory."""

    def __init__(self, binary, state_dir):
        self.binary = binary
        self.state = Path(state_dir)
        self.sock = self.state / "vswitchd.sock"
        self.log = self.state.parent / f"{self.state.name}.log"
        self.proc = None
        self.ports = set()
        self._id = 0

    def start(self, workers=2):
        self.state.mkdir(parents=True, exist_ok=True)
        cmd = [str(self.binary), "--state-dir", str(self.state),
               "--log-file", str(self.log), "--workers", str(workers)]
        self.proc = spawn(cmd)
        JANITOR.add("vswitchd", self.stop)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"vswitchd exited {self.proc.returncode}; "
                                 f"see {self.log}")
            try:
                self.rpc("system.status", {})
                return
            except (OSError, ValueError, BenchError):
                time.sleep(0.05)
        raise BenchError("vswitchd did not answer within 20 s")

    def rpc(self, method, params, timeout=60):
        self._id += 1
        req = {"jsonrpc": "2.0", "id": self._id, "method": method,
               "params": params}
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(timeout)
            s.connect(str(self.sock))
            s.sendall(json.dumps(req).encode() + b"\n")
            chunks = []
            while True:
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
                if chunk.endswith(b"\n"):
                    break
        resp = json.loads(b"".join(chunks))
        if "error" in resp:
            raise BenchError(f"{method}: {resp['error'].get('message')}")
        return resp["result"]

    def add_tap(self, switch, port, ifname, mac=None, offloads=True):
        params = {"switch": switch, "name": port, "type": "tap",
                  "ifname": ifname}
        if mac:
            params["mac"] = mac
        if not offloads:
            params["offloads"] = False
        self.rpc("port.add", params)
        self.ports.add(port)
        # port.del closes the TAP, and the kernel deletes it wherever it is.
        JANITOR.add(f"port {port}", lambda: self.del_port(port))

    def del_port(self, port):
        if port in self.ports and self.proc and self.proc.poll() is None:
            self.ports.discard(port)
            try:
                self.rpc("port.del", {"name": port}, timeout=20)
            except (OSError, ValueError, BenchError):
                pass

    def stop(self):
        kill_group(self.proc, signal.SIGTERM, wait=30)
        # Namespace pins (bind mounts) the daemon keeps for moved TAPs.
        pins = self.state / "netns"
        if pins.is_dir():
            for pin in pins.iterdir():
                for _ in range(8):
                    if subprocess.run(["umount", "-l", str(pin)],
                                      capture_output=True).returncode:
                        break

    def check_log(self, notes):
        if self.proc.poll() is not None:
            notes.append(f"vswitchd exited {self.proc.returncode}")
        text = self.log.read_text(errors="replace") if self.log.exists() \
            else ""
        bad = [line for line in text.splitlines()
               if re.search(r"\b(err|warn): ", line)]
        if bad:
            notes.append(f"{len(bad)} warning/error lines in vswitchd log, "
                         f"last: {bad[-1][-160:]}")


class BridgePeer(Peer):
    key = "bridge"
    subnet = 2

    def setup(self):
        hub = make_ns(f"{PREFIX}-br0")
        br = f"{PREFIX}br"
        sh(["ip", "-n", hub, "link", "add", br, "type", "bridge",
            "stp_state", "0", "forward_delay", "0"])
        sh(["ip", "-n", hub, "link", "set", br, "up"])
        vms = []
        for i in (1, 2):
            vm = VM(make_ns(f"{PREFIX}-br{i}"), f"{PREFIX}ve{i}", self.ip(i))
            peer = f"{PREFIX}vp{i}"
            sh(["ip", "link", "add", vm.ifname, "netns", vm.ns, "type",
                "veth", "peer", "name", peer, "netns", hub])
            sh(["ip", "-n", hub, "link", "set", peer, "master", br, "up"])
            configure_vm(vm)
            vms.append(vm)
        self.vm1, self.vm2 = vms

    def cpu_na_reason(self):
        return ("in-kernel: the bridge forwards inside the senders' softirq "
                "(NET_RX), interleaved with the VMs' own TCP/IP work in the "
                "same softirq, so no time is the bridge's alone; see the "
                "host CPU rows")


class OvsPeer(Peer):
    """Debian's Open vSwitch, userspace datapath, from a private directory.

    ovsdb-server runs in the host namespace on a private unix socket;
    ovs-vswitchd runs in a namespace of its own, so the devices it creates
    (ovs-netdev, the bridge's internal port, the TAPs) can never collide
    with another OVS on the machine and vanish with that namespace.
    """

    def __init__(self, args, workdir, tso):
        super().__init__(args, workdir)
        self.tso = tso
        self.key = "ovs-tso" if tso else "ovs"
        self.subnet = 3 if tso else 4
        self.dir = workdir / self.key
        self.env = None
        self.db = self.vswitchd = None
        self.vswitchd_pid = None

    def vsctl(self, *args, timeout=30):
        return sh(["ovs-vsctl", f"--db=unix:{self.dir}/db.sock",
                   f"--timeout={timeout}", *args], env=self.env,
                  timeout=timeout + 10)

    def setup(self):
        for tool in ("ovsdb-tool", "ovsdb-server", "ovs-vswitchd",
                     "ovs-vsctl"):
            if not shutil.which(tool):
                raise BenchError(f"{tool} not found (openvswitch-switch "
                                 "not installed?)")
        # One userspace Open vSwitch at a time works here (MACHINE-NOTES.md):
        # the system tests' OVS peer (tests/system/ovs_peer.py) holds the
        # same lock while it runs, so the two wait for each other.
        self.lock = open(OVS_LOCK, "a")
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        JANITOR.add(f"{self.key} lock", self.lock.close)
        self.dir.mkdir(parents=True)
        d = str(self.dir)
        self.env = dict(os.environ, OVS_RUNDIR=d, OVS_LOGDIR=d, OVS_DBDIR=d,
                        OVS_SYSCONFDIR=d)
        sh(["ovsdb-tool", "create", f"{d}/conf.db", OVS_SCHEMA], env=self.env)
        self.db = spawn(["ovsdb-server", f"{d}/conf.db",
                         f"--remote=punix:{d}/db.sock",
                         f"--unixctl={d}/ovsdb-server.ctl",
                         f"--pidfile={d}/ovsdb-server.pid",
                         f"--log-file={d}/ovsdb-server.log", "-vconsole:off"],
                        env=self.env)
        JANITOR.add(f"{self.key} ovsdb-server",
                    lambda: kill_group(self.db, signal.SIGTERM))
        deadline = time.monotonic() + 20
        while not (self.dir / "db.sock").exists():
            if self.db.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"ovsdb-server did not start; see {d}")
            time.sleep(0.05)
        self.vsctl("--no-wait", "init")
        if self.tso:
            # Read once, when ovs-vswitchd starts.
            self.vsctl("--no-wait", "set", "Open_vSwitch", ".",
                       "other_config:userspace-tso-enable=true")
        ovsns = make_ns(f"{PREFIX}-{self.key}")
        self.vswitchd = spawn(["ovs-vswitchd", f"unix:{d}/db.sock",
                               f"--unixctl={d}/ovs-vswitchd.ctl",
                               f"--pidfile={d}/ovs-vswitchd.pid",
                               f"--log-file={d}/ovs-vswitchd.log",
                               "-vconsole:off"], ns=ovsns, env=self.env)
        JANITOR.add(f"{self.key} ovs-vswitchd",
                    lambda: kill_group(self.vswitchd, signal.SIGTERM))
        # "ip netns exec" execs the command, so the pid is ovs-vswitchd's;
        # its pidfile says so too.
        pidfile = self.dir / "ovs-vswitchd.pid"
        deadline = time.monotonic() + 20
        while True:
            try:
                self.vswitchd_pid = int(pidfile.read_text().split()[0])
                break
            except (OSError, ValueError, IndexError):
                pass
            if self.vswitchd.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"ovs-vswitchd did not start; see {d}")
            time.sleep(0.05)
        br = f"{PREFIX}ob"
        # Without --no-wait, ovs-vsctl waits until ovs-vswitchd applied it.
        self.vsctl("add-br", br, "--", "set", "bridge", br,
                   "datapath_type=netdev")
        vms = []
        for i in (1, 2):
            ifname = f"{PREFIX}ot{i}"
            vm = VM(make_ns(f"{PREFIX}-{self.key}{i}"), ifname, self.ip(i))
            self.vsctl("add-port", br, ifname, "--", "set", "Interface",
                       ifname, "type=tap")
            sh(["ip", "-n", ovsns, "link", "set", ifname, "netns", vm.ns])
            configure_vm(vm)
            vms.append(vm)
        self.vm1, self.vm2 = vms
        self.notes.append(
            "userspace-tso-enable=true" if self.tso else "no TSO")

    def switch_pids(self):
        return [self.vswitchd_pid]

    def finish(self):
        log_file = self.dir / "ovs-vswitchd.log"
        text = log_file.read_text(errors="replace") if log_file.exists() \
            else ""
        bad = [line for line in text.splitlines()
               if "|WARN|" in line or "|ERR|" in line or "|EMER|" in line]
        # Expected: OVS queries its TAPs by name in its own namespace, and
        # they were moved out of it into the VMs.
        moved = [line for line in bad if "No such device" in line]
        other = [line for line in bad if line not in moved]
        if moved:
            self.notes.append(f"{len(moved)} 'No such device' warnings in "
                              "ovs-vswitchd log (its TAPs live in the VMs' "
                              "namespaces: expected)")
        if other:
            self.notes.append(f"{len(other)} other WARN/ERR lines in "
                              f"ovs-vswitchd log, last: {other[-1][-160:]}")


def make_peer(key, args, workdir):
    if key == "vswitch":
        return VswitchPeer(args, workdir)
    if key in VARIANTS:
        return VswitchPeer(args, workdir, variant=key)
    if key == "bridge":
        return BridgePeer(args, workdir)
    if key == "ovs-tso":
        return OvsPeer(args, workdir, tso=True)
    if key == "ovs":
        return OvsPeer(args, workdir, tso=False)
    raise ValueError(key)


# ---------------------------------------------------------------------------
# Workloads.  Each takes (peer, args) and returns a dict of metrics.


class CpuMeter:
    """Switch CPU seconds and host busy seconds over a span of time."""

    def __init__(self, peer):
        self.pids = peer.switch_pids()

    def __enter__(self):
        self.t0 = time.monotonic()
        self.sw0 = proc_cpu_seconds(self.pids)
        self.host0 = host_busy_seconds()
        return self

    def __exit__(self, *exc):
        self.wall = time.monotonic() - self.t0
        self.switch = proc_cpu_seconds(self.pids) - self.sw0 \
            if self.pids else None
        self.host = host_busy_seconds() - self.host0
        return False


def per(value, amount):
    if value is None or not amount:
        return None
    return value / amount


def iperf3(peer, streams, duration):
    vm1, vm2 = peer.vm1, peer.vm2
    port = "5201"
    server = spawn(["iperf3", "-s", "-1", "-B", vm2.ip, "-p", port],
                   ns=vm2.ns)
    try:
        deadline = time.monotonic() + 10
        while True:
            res = sh(["ss", "-Hltn", f"sport = :{port}"], ns=vm2.ns,
                     check=False, timeout=10)
            if res.stdout.strip():
                break
            if server.poll() is not None or time.monotonic() > deadline:
                raise BenchError("iperf3 server did not start")
            time.sleep(0.05)
        wire0 = peer.wire_bytes() if hasattr(peer, "wire_bytes") else None
        with CpuMeter(peer) as cpu:
            res = sh(["iperf3", "-c", vm2.ip, "-p", port, "-t",
                      str(duration), "-P", str(streams), "-J",
                      "--connect-timeout", "3000"], ns=vm1.ns, check=False,
                     timeout=duration + 40)
        try:
            out = json.loads(res.stdout)
        except ValueError as e:
            raise BenchError(f"iperf3: {res.stderr.strip()[-300:]}") from e
        if "error" in out:
            raise BenchError(f"iperf3: {out['error']}")
        recv = out["end"]["sum_received"]
        gbit = recv["bytes"] * 8 / 1e9
        # The wire rate (Ethernet headers and all), over iperf3's span.
        wire = (peer.wire_bytes() - wire0) * 8 / cpu.wall / 1e9 \
            if wire0 is not None and cpu.wall else None
        return {"gbps": recv["bits_per_second"] / 1e9, "wire_gbps": wire,
                "retransmits": out["end"].get("sum_sent", {}).get(
                    "retransmits"),
                "switch_cpu_s_per_gbit": per(cpu.switch, gbit),
                "host_cpu_s_per_gbit": per(cpu.host, gbit),
                "switch_cpu_s": cpu.switch, "host_cpu_s": cpu.host}
    finally:
        kill_group(server)


def wl_tcp(peer, args):
    out = {}
    for streams in (1, 4):
        log(f"{peer.key}: TCP, {streams} stream(s), {args.duration} s")
        r = iperf3(peer, streams, args.duration)
        out[f"tcp{streams}_gbps"] = r["gbps"]
        out[f"cpu_tcp{streams}_s_per_gbit"] = r["switch_cpu_s_per_gbit"]
        out[f"host_cpu_tcp{streams}_s_per_gbit"] = r["host_cpu_s_per_gbit"]
        out[f"tcp{streams}_retransmits"] = r["retransmits"]
        if peer.key == "vswitch-shaped" and r["wire_gbps"] is not None:
            out[f"tcp{streams}_wire_gbps"] = r["wire_gbps"]
            out[f"shaper_tcp{streams}_accuracy"] = \
                r["wire_gbps"] * 1e9 / SHAPED_RATE
    return out


def ping_stats(peer, count):
    res = sh(["ping", "-c", str(count), "-i", "0.01", "-W", "1",
              peer.vm2.ip], ns=peer.vm1.ns, check=False,
             timeout=count * 0.01 + 30)
    times = sorted(float(m) * 1000 for m in
                   re.findall(r"time=([0-9.]+) ms", res.stdout))
    if not times:
        raise BenchError(f"ping got no answers: {res.stdout[-300:]}")
    n = len(times)
    median = times[n // 2] if n % 2 else (times[n // 2 - 1] + times[n // 2]) / 2
    p99 = times[max(0, math.ceil(0.99 * n) - 1)]
    return {"ping_median_us": median, "ping_p99_us": p99,
            "ping_lost": count - n}


def wl_latency(peer, args):
    log(f"{peer.key}: ping -c {args.ping_count} -i 0.01")
    return ping_stats(peer, args.ping_count)


def trafgen_config(peer, path):
    """One 64-byte IPv4/UDP frame from VM1 to VM2's MAC, addressed to an IP
    nobody has in the subnet: VM2 counts it at its interface and drops it
    silently (no ICMP back through the switch)."""
    def macbytes(mac):
        return ", ".join(f"0x{b}" for b in mac.split(":"))
    src = ", ".join(peer.vm1.ip.split("."))
    dst = ", ".join(peer.ip(200).split("."))
    payload = FRAME_LEN - 14 - 20 - 8
    path.write_text(
        "{\n"
        f"  {macbytes(peer.vm2.mac)},\n"
        f"  {macbytes(peer.vm1.mac)},\n"
        "  c16(0x0800),\n"
        f"  0x45, 0x00, c16({20 + 8 + payload}), c16(0), c16(0x4000),"
        " 0x40, 17, csumip(14, 33),\n"
        f"  {src}, {dst},\n"
        f"  c16(9), c16(9), c16({8 + payload}), c16(0),\n"
        f"  fill(0x00, {payload})\n"
        "}\n")


def trafgen_run(peer, cfg, count, paced, max_seconds):
    """Sends 'count' frames from VM1; returns what was sent, delivered and
    dropped, and the CPU it took.  'paced': through the qdisc (the TBF set
    by the caller), else bypassing it (trafgen's default)."""
    vm1, vm2 = peer.vm1, peer.vm2
    s1, s2 = link_stats(vm1.ns, vm1.ifname), link_stats(vm2.ns, vm2.ifname)
    cmd = ["trafgen", "-o", vm1.ifname, "-i", str(cfg), "-n", str(count),
           "-P", "1", "--no-sock-mem", "-Q"]
    if paced:
        cmd.append("-q")
    with CpuMeter(peer) as cpu:
        proc = spawn(cmd, ns=vm1.ns, stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT)
        try:
            out, _ = proc.communicate(timeout=max_seconds)
            killed = False
        except subprocess.TimeoutExpired:
            # trafgen may ignore SIGTERM while its ring is full.
            kill_group(proc, signal.SIGKILL)
            out, _ = proc.communicate()
            killed = True
        finally:
            # Also when interrupted: never leave a sender behind.
            kill_group(proc, signal.SIGKILL)
        time.sleep(0.2)  # let the switch drain its queues
    out = out.decode(errors="replace") if out else ""
    if proc.returncode and not killed:
        last = out.strip().splitlines()[-1] if out.strip() else ""
        raise BenchError(f"trafgen exited {proc.returncode}: {last[-200:]}")
    e1, e2 = link_stats(vm1.ns, vm1.ifname), link_stats(vm2.ns, vm2.ifname)
    m = re.search(r"(\d+) sec, (\d+) usec on CPU", out)
    loop_s = int(m.group(1)) + int(m.group(2)) / 1e6 if m else None
    # What entered the sender's interface: read by the switch (tx_packets)
    # or dropped because its queue was full (tx_dropped).
    tx = e1["tx_packets"] - s1["tx_packets"]
    txdrop = e1["tx_dropped"] - s1["tx_dropped"]
    sent = tx + txdrop
    delivered = e2["rx_packets"] - s2["rx_packets"]
    secs = loop_s if loop_s and not killed else cpu.wall
    return {
        "sent": sent, "delivered": delivered, "sender_tx_dropped": txdrop,
        "seconds": secs, "offered_mpps": sent / secs / 1e6 if secs else 0,
        "delivered_mpps": delivered / secs / 1e6 if secs else 0,
        "loss": 1 - delivered / sent if sent else 1.0,
        "switch_cpu_s": cpu.switch, "host_cpu_s": cpu.host,
        "killed": killed,
    }


def trafgen_window(peer, cfg, seconds, warmup=0.3):
    """Unpaced trafgen (qdisc bypassed) for a while; counts over a window
    of 'seconds' after 'warmup', then kills it."""
    vm1, vm2 = peer.vm1, peer.vm2
    cmd = ["trafgen", "-o", vm1.ifname, "-i", str(cfg), "-n", "1000000000",
           "-P", "1", "--no-sock-mem", "-Q"]
    proc = spawn(cmd, ns=vm1.ns)
    try:
        time.sleep(warmup)
        if proc.poll() is not None:
            raise BenchError(f"trafgen exited {proc.returncode}")
        s1 = link_stats(vm1.ns, vm1.ifname)
        s2 = link_stats(vm2.ns, vm2.ifname)
        with CpuMeter(peer) as cpu:
            time.sleep(seconds)
            e1 = link_stats(vm1.ns, vm1.ifname)
            e2 = link_stats(vm2.ns, vm2.ifname)
    finally:
        kill_group(proc, signal.SIGKILL)
    sent = (e1["tx_packets"] + e1["tx_dropped"]
            - s1["tx_packets"] - s1["tx_dropped"])
    delivered = e2["rx_packets"] - s2["rx_packets"]
    return {"sent": sent, "delivered": delivered,
            "sender_tx_dropped": e1["tx_dropped"] - s1["tx_dropped"],
            "seconds": cpu.wall, "offered_mpps": sent / cpu.wall / 1e6,
            "delivered_mpps": delivered / cpu.wall / 1e6,
            "switch_cpu_s": cpu.switch, "host_cpu_s": cpu.host}


def set_tbf(peer, mpps):
    bits = int(mpps * 1e6 * FRAME_LEN * 8)
    # burst: 64 frames, so the receiving queues see small bursts only.
    # limit: 64 frames.  When the TBF queue is full, the kernel hands the
    # frame back to trafgen's TX ring (ENOBUFS) and trafgen sends it again:
    # the generator is back-pressured, nothing is lost before the switch.
    # A longer queue would fill the socket's send buffer first, and trafgen
    # gives up on the EAGAIN that follows.
    sh(["tc", "qdisc", "replace", "dev", peer.vm1.ifname, "root", "tbf",
        "rate", f"{bits}bit", "burst", str(64 * FRAME_LEN), "limit",
        str(64 * FRAME_LEN)], ns=peer.vm1.ns)


def udp_step(peer, cfg, target, args):
    """One offered rate: TBF at 'target' Mpps, trafgen for about
    args.udp_step seconds.  Returns the measurement, or {"error": ...} if
    trafgen itself failed."""
    count = max(1000, int(target * 1e6 * args.udp_step))
    try:
        set_tbf(peer, target)
        r = trafgen_run(peer, cfg, count, paced=True,
                        max_seconds=args.udp_step * 4 + 10)
    except BenchError as e:
        log(f"{peer.key}: trafgen failed at {target:.3f} Mpps: {e}")
        return {"error": f"trafgen failed at {target:.3f} Mpps: {e}",
                "target_mpps": target}
    r["target_mpps"] = target
    r["ok"] = r["loss"] < 0.01
    log(f"{peer.key}: UDP 64B target {target:.3f} Mpps: offered "
        f"{r['offered_mpps']:.3f}, delivered {r['delivered_mpps']:.3f}, "
        f"loss {100 * r['loss']:.2f} % (sender tx_dropped "
        f"{r['sender_tx_dropped']})")
    return r


def udp_search(args):
    """The search for one peer, as a generator: yields the next offered
    rate (Mpps), receives that step's measurement, and returns a summary.
    A ladder of rates until one loses >= 1 % (each failure is tried twice:
    a single hiccup is not capacity), then bisection between the last rate
    that passed and the first that failed."""
    best, fail, gen_bound, prev, errors = None, None, False, 0.0, []

    def passes(target):
        r = yield target
        if not r.get("error") and not r["ok"]:
            r = yield target
        return r

    for target in args.udp_ladder:
        r = yield from passes(target)
        if r.get("error"):
            # The generator, not the switch, stopped: keep what passed.
            errors.append(r["error"])
            gen_bound = True
            break
        if not r["ok"]:
            fail = target
            break
        if r["offered_mpps"] < prev * 1.1:
            # Asked for more but the sender did not offer (10 %) more.
            # Once more, in case other load starved it; then the generator,
            # not the switch, is the limit.
            again = yield target
            if not again.get("error") and again["ok"] and \
                    again["offered_mpps"] > r["offered_mpps"]:
                r = again
        best = r
        if r["offered_mpps"] < prev * 1.1:
            gen_bound = True
            break
        prev = r["offered_mpps"]
    if fail is None and best and \
            best["offered_mpps"] < 0.9 * best["target_mpps"]:
        gen_bound = True  # ladder done, the top rates were never offered
    lo = best["target_mpps"] if best else 0.0
    if fail is not None:
        for _ in range(args.udp_bisect):
            mid = (lo + fail) / 2
            if mid < 0.005:
                break
            r = yield from passes(mid)
            if r.get("error"):
                errors.append(r["error"])
                break
            if r["ok"]:
                lo, best = mid, r
            else:
                fail = mid
    return {"best": best, "generator_bound": gen_bound, "errors": errors}


def run_udp(peers, args, results):
    """The packet-rate searches of all peers, interleaved step by step (so
    background load hits them alike), then an unpaced overload run each."""
    searches, cfgs, steps = {}, {}, {}
    for key, peer in peers.items():
        cfgs[key] = peer.workdir / f"{key}-trafgen.cfg"
        trafgen_config(peer, cfgs[key])
        gen = udp_search(args)
        searches[key] = (gen, next(gen))
        steps[key] = []
    summaries = {}
    try:
        while searches:
            for key in list(searches):
                gen, target = searches[key]
                r = udp_step(peers[key], cfgs[key], target, args)
                steps[key].append(r)
                try:
                    searches[key] = (gen, gen.send(r))
                except StopIteration as done:
                    summaries[key] = done.value
                    del searches[key]
        for key, peer in peers.items():
            sh(["tc", "qdisc", "del", "dev", peer.vm1.ifname, "root"],
               ns=peer.vm1.ns, check=False)
            # Overload: unpaced (qdisc bypassed), what gets through at all.
            log(f"{key}: UDP 64B unpaced overload, {args.udp_step:g} s")
            try:
                over = trafgen_window(peer, cfgs[key], args.udp_step)
            except BenchError as e:
                summaries[key]["errors"].append(f"unpaced: {e}")
                continue
            results[key].update({
                "udp64_overload_mpps": over["delivered_mpps"],
                "udp64_overload_offered_mpps": over["offered_mpps"],
                "udp64_overload_sender_tx_dropped":
                    over["sender_tx_dropped"]})
    finally:
        for key, peer in peers.items():
            sh(["tc", "qdisc", "del", "dev", peer.vm1.ifname, "root"],
               ns=peer.vm1.ns, check=False)
    for key, summary in summaries.items():
        out = results[key]
        out["udp_steps"] = steps[key]
        out["udp_errors"] = summary["errors"]
        best = summary["best"]
        if not best:
            out["udp64_mpps"] = 0.0
            continue
        delivered_mpkt = best["delivered"] / 1e6
        out.update({
            "udp64_mpps": best["offered_mpps"],
            "udp64_loss": best["loss"],
            # The ladder ended because the sender could not offer more,
            # not because the switch lost packets.
            "udp64_generator_bound": summary["generator_bound"],
            "cpu_udp64_s_per_mpkt": per(best["switch_cpu_s"], delivered_mpkt),
            "host_cpu_udp64_s_per_mpkt": per(best["host_cpu_s"],
                                             delivered_mpkt),
        })


def wl_check(peer, args):
    """After the workloads: the peer's own checks (Peer.check; for the
    policy variants, that the test traffic was allowed all along)."""
    return peer.check()


# Short workloads run in rounds, interleaved across the peers (so a burst
# of background load hits every peer alike), and the median of the rounds
# is reported (peers whose in_rounds() is false skip them).  Long ones run
# once per peer, after the rounds.  The packet rate (run_udp) runs between
# the two, all peers interleaved.
ROUND_WORKLOADS = [wl_latency, wl_tcp]
ONCE_WORKLOADS = [wl_check]


def setup_peer(key, args, workdir):
    """Returns (peer or None, result dict)."""
    peer = make_peer(key, args, workdir)
    result = {"notes": peer.notes}
    mark = JANITOR.mark()
    try:
        log(f"{key}: setting up")
        try:
            peer.setup()
        finally:
            result.update(getattr(peer, "info", {}))
        wait_ping(peer.vm1, peer.vm2)
        wait_ping(peer.vm2, peer.vm1)
        result["vm_offloads"] = offloads(peer.vm1.ns, peer.vm1.ifname)
        if peer.cpu_na_reason():
            result["cpu_na_reason"] = peer.cpu_na_reason()
        return peer, result
    except BenchError as e:
        log(f"{key}: setup failed: {e}")
        result["error"] = str(e)
        try:
            peer.finish()
        except Exception:
            pass
        JANITOR.unwind(mark)
        return None, result


def run_workload(wl, peer, args, result):
    try:
        return wl(peer, args)
    except BenchError as e:
        log(f"{peer.key}: {wl.__name__} failed: {e}")
        result.setdefault("errors", []).append(f"{wl.__name__}: {e}")
        return {}


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def run_peers(args, workdir):
    results, peers = {}, {}
    mark = JANITOR.mark()
    try:
        for key in args.peers + args.variants:
            t0 = time.monotonic()
            peer, results[key] = setup_peer(key, args, workdir)
            results[key]["setup_seconds"] = round(time.monotonic() - t0, 1)
            if peer:
                peers[key] = peer
        keys = list(peers)
        samples = {k: {} for k in keys}
        for rnd in range(args.rounds):
            log(f"round {rnd + 1} of {args.rounds}")
            order = keys[rnd % len(keys):] + keys[:rnd % len(keys)] \
                if keys else []
            for key in order:
                if not peers[key].in_rounds():
                    continue
                for wl in ROUND_WORKLOADS:
                    out = run_workload(wl, peers[key], args, results[key])
                    for metric, value in out.items():
                        samples[key].setdefault(metric, []).append(value)
        for key in keys:
            results[key]["samples"] = samples[key]
            for metric, values in samples[key].items():
                nums = [v for v in values if isinstance(v, (int, float))]
                if nums:
                    results[key][metric] = median(nums)
        if not args.skip_udp and peers:
            log("UDP 64 B packet rate, peers interleaved")
            try:
                run_udp(peers, args, results)
            except BenchError as e:
                log(f"UDP packet rate failed: {e}")
                for key in keys:
                    results[key].setdefault("errors", []).append(
                        f"UDP packet rate: {e}")
        for key in keys:
            for wl in ONCE_WORKLOADS:
                results[key].update(run_workload(wl, peers[key], args,
                                                 results[key]))
        for key in keys:
            try:
                peers[key].finish()
            except Exception as e:
                log(f"{key}: finish: {e}")
    finally:
        JANITOR.unwind(mark)
    return results


# ---------------------------------------------------------------------------
# Scale (vswitch only)


def inject_frames(ifname, dst_mac, count, first):
    """Runs inside the VM's namespace (bench.py _inject ...): sends 'count'
    frames with distinct source MACs 02:5e:xx:xx:xx:xx to 'dst_mac'."""
    dst = bytes.fromhex(dst_mac.replace(":", ""))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    pad = b"\x00" * (FRAME_LEN - 14)
    for i in range(first, first + count):
        frame = dst + b"\x02\x5e" + i.to_bytes(4, "big") + b"\x88\xb5" + pad
        while True:
            try:
                s.send(frame)
                break
            except OSError as e:  # the qdisc is full: wait, send again
                if e.errno not in (errno.ENOBUFS, errno.EAGAIN):
                    raise
                time.sleep(0.001)
        if i % 200 == 199:
            time.sleep(0.002)  # stay under the TAP queue
    s.close()


def wait_port_quiet(daemon, port, timeout=30):
    """Waits until the port's rx counter stops moving (the switch has
    processed everything the VM sent)."""
    last, deadline = -1, time.monotonic() + timeout
    while time.monotonic() < deadline:
        rx = daemon.rpc("port.stats", {"name": port})["ports"][0][
            "rx-packets"]
        if rx == last:
            return rx
        last = rx
        time.sleep(0.5)
    return last


def scale_table_size(args):
    # Room for the injected MACs plus the VMs' own.
    return args.scale_macs + 4096


def wl_scale(args, workdir):
    log(f"scale: vswitch with {args.scale_ports} TAP ports, "
        f"{args.scale_macs} MACs")
    out = {"scale_ports": args.scale_ports, "scale_macs": args.scale_macs}
    mark = JANITOR.mark()
    try:
        d = Vswitchd(args.vswitchd, workdir / "scale")
        d.start(workers=args.workers)
        pid = d.proc.pid
        out["scale_rss_idle_mib"] = rss_mib(pid)
        table = scale_table_size(args)
        d.rpc("switch.add", {"name": "big", "mac-table-size": table,
                             "mac-ageing": 3600})
        out["scale_mac_table_size"] = table
        out["scale_rss_switch_mib"] = rss_mib(pid)
        t0 = time.monotonic()
        vms = []
        for i in (1, 2):
            ifname = f"{PREFIX}sv{i}"
            vm = VM(make_ns(f"{PREFIX}-sc{i}"), ifname, f"198.18.5.{i}")
            d.add_tap("big", f"vm{i}", ifname)
            sh(["ip", "link", "set", ifname, "netns", vm.ns])
            configure_vm(vm)
            vms.append(vm)
        for i in range(args.scale_ports - 2):
            d.add_tap("big", f"p{i}", f"{PREFIX}s{i}")
        out["scale_port_add_s"] = time.monotonic() - t0
        wait_ping(vms[0], vms[1])
        out["scale_rss_ports_mib"] = rss_mib(pid)
        log(f"scale: {args.scale_ports} ports in "
            f"{out['scale_port_add_s']:.1f} s, RSS "
            f"{out['scale_rss_ports_mib']:.1f} MiB")
        count = 0
        for attempt in range(4):
            sh(["/usr/bin/python3", str(Path(__file__).resolve()), "_inject",
                vms[0].ifname, vms[1].mac, str(args.scale_macs), "0"],
               ns=vms[0].ns, timeout=300)
            wait_port_quiet(d, "vm1")
            if attempt == 0:
                # Before fdb.show, whose reply (all entries as JSON) takes
                # memory of its own.
                out["scale_rss_macs_mib"] = rss_mib(pid)
            count = d.rpc("fdb.show", {"switch": "big"}, timeout=120)["count"]
            log(f"scale: injection round {attempt + 1}: fdb count {count}")
            if count >= args.scale_macs:
                break
        out["scale_fdb_count"] = count
        out["scale_rss_after_fdb_show_mib"] = rss_mib(pid)
        p = ping_stats(type("P", (), {"vm1": vms[0], "vm2": vms[1]}),
                       args.ping_count)
        out["scale_ping_median_us"] = p["ping_median_us"]
        log(f"scale: fdb {count}, RSS {out['scale_rss_macs_mib']:.1f} MiB "
            f"({out['scale_rss_after_fdb_show_mib']:.1f} MiB after fdb.show), "
            f"ping median {p['ping_median_us']:.1f} us")
        t0 = time.monotonic()
        for port in sorted(d.ports):
            d.del_port(port)
        out["scale_port_del_s"] = time.monotonic() - t0
    except BenchError as e:
        log(f"scale: failed: {e}")
        out["error"] = str(e)
    finally:
        JANITOR.unwind(mark)  # port.del what is left, stop the daemon
    return out


# ---------------------------------------------------------------------------
# Port churn (issue 17): TAP ports added and deleted one request at a
# time, and in one request ("ports" lists), by this build and, with
# --baseline-build, by the older one, alternately in the same run.

CHURN_ROWS = [
    # key, label, target (seconds for 1 000 ports; None: none)
    ("churn_add_one_s", "add {n} TAP ports, one request each", 5.0),
    ("churn_del_one_s", "delete {n} TAP ports, one request each", None),
    ("churn_add_bulk_s", "add {n} TAP ports in one request", 2.0),
    ("churn_del_bulk_s", "delete {n} TAP ports in one request", None),
]


def churn_once(binary, n, workdir, tag):
    """Seconds (and daemon CPU seconds) for each way of adding and deleting
    'n' TAP ports with the vswitchd 'binary'."""
    out = {}
    mark = JANITOR.mark()
    d = Vswitchd(binary, workdir / f"churn-{tag}")
    try:
        d.start(workers=2)
        d.rpc("switch.add", {"name": "churn"})
        names = [f"c{i}" for i in range(n)]
        ifnames = [f"{PREFIX}c{i}" for i in range(n)]

        def cpu():
            fields = Path(f"/proc/{d.proc.pid}/stat").read_text() \
                .rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / \
                os.sysconf("SC_CLK_TCK")

        def timed(key, fn):
            t0, c0 = time.monotonic(), cpu()
            fn()
            out[key] = time.monotonic() - t0
            out[key.replace("_s", "_cpu_s")] = cpu() - c0

        def add_one():
            for name, ifname in zip(names, ifnames):
                d.add_tap("churn", name, ifname)

        def del_one():
            for name in names:
                d.del_port(name)
                if name in d.ports:
                    raise BenchError(f"port.del {name} failed")

        def add_bulk():
            d.rpc("port.add", {"switch": "churn", "ports": [
                {"name": name, "type": "tap", "ifname": ifname}
                for name, ifname in zip(names, ifnames)]}, timeout=300)
            d.ports.update(names)

        def del_bulk():
            d.rpc("port.del", {"ports": names}, timeout=300)
            d.ports.difference_update(names)

        timed("churn_add_one_s", add_one)
        timed("churn_del_one_s", del_one)
        try:
            timed("churn_add_bulk_s", add_bulk)
            timed("churn_del_bulk_s", del_bulk)
        except BenchError as e:
            # An older build without the list forms.
            out["churn_bulk_error"] = str(e)
            out.pop("churn_add_bulk_s", None)
            out.pop("churn_add_bulk_cpu_s", None)
    except BenchError as e:
        out["churn_error"] = str(e)
    finally:
        JANITOR.unwind(mark)
    return out


def wl_churn(args, workdir):
    builds = [("after", args.vswitchd)]
    if args.baseline_build:
        builds.insert(0, ("before", args.baseline_vswitchd))
    results = {label: [] for label, _ in builds}
    for r in range(args.churn_rounds):
        for label, binary in builds:
            log(f"churn: round {r + 1}, {label}: {args.churn_ports} ports")
            # A state directory of its own each round: a round starts
            # from an empty configuration.
            res = churn_once(binary, args.churn_ports, workdir,
                             f"{label}-{r + 1}")
            log(f"churn: {label}: " + ", ".join(
                f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                for k, v in res.items()))
            results[label].append(res)
    merged = {}
    for label, runs in results.items():
        keys = {k for res in runs for k in res}
        merged[label] = {}
        for k in keys:
            values = [res[k] for res in runs if k in res]
            merged[label][k] = statistics.median(values) \
                if isinstance(values[0], float) else values[0]
    return merged


def render_churn(churn, args):
    lines = [f"Port churn, {args.churn_ports} TAP ports, median of "
             f"{args.churn_rounds} round(s); seconds (daemon CPU seconds):",
             ""]
    before = churn.get("before")
    head = f"{'':44} {'before':>14} {'after':>14} {'after/before':>13} " \
        f"{'target':>8}"
    lines.append(head)
    scale = args.churn_ports / 1000
    for key, label, target in CHURN_ROWS:
        def cell(res):
            if not res or key not in res:
                return "-"
            return f"{res[key]:.2f} ({res[key.replace('_s', '_cpu_s')]:.2f})"

        after = churn.get("after", {})
        ratio = "-"
        if before and key in before and key in after and before[key]:
            ratio = f"{after[key] / before[key]:.2f}"
        goal = f"<= {target * scale:.1f}" if target else "-"
        lines.append(f"{label.format(n=args.churn_ports):44} "
                     f"{cell(before):>14} {cell(after):>14} {ratio:>13} "
                     f"{goal:>8}")
    for label, res in churn.items():
        for k in ("churn_error", "churn_bulk_error"):
            if res.get(k):
                lines.append(f"{label}: {res[k]}")
    lines.append("")
    lines.append("Targets (issue 17): 1 000 ports added in one request in "
                 "<= 2 s, one request each in <= 5 s; deletes no slower "
                 "than adds.  Wall-clock times include waiting for the "
                 "disk (config.json is saved, with fsync, per commit) and "
                 "for the kernel; on a machine other work shares they "
                 "grow with its load, while the CPU seconds do not.")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Report

# key, label, unit, which way is better ("higher"/"lower"/None), decimals
ROWS = [
    ("tcp1_gbps", "TCP 1 stream", "Gbit/s", "higher", 2),
    ("tcp4_gbps", "TCP 4 streams", "Gbit/s", "higher", 2),
    ("udp64_mpps", "UDP 64 B, max rate with < 1 % loss", "Mpps", "higher", 3),
    ("udp64_overload_mpps", "UDP 64 B delivered, unpaced sender", "Mpps",
     "higher", 3),
    ("ping_median_us", "ping RTT median", "us", "lower", 1),
    ("ping_p99_us", "ping RTT p99", "us", "lower", 1),
    ("cpu_tcp1_s_per_gbit", "switch CPU, TCP 1 stream", "s/Gbit", "lower", 3),
    ("cpu_tcp4_s_per_gbit", "switch CPU, TCP 4 streams", "s/Gbit", "lower", 3),
    ("cpu_udp64_s_per_mpkt", "switch CPU, UDP 64 B at max rate", "s/Mpkt",
     "lower", 3),
    ("host_cpu_tcp1_s_per_gbit", "host CPU, TCP 1 stream", "s/Gbit", "lower",
     3),
    ("host_cpu_tcp4_s_per_gbit", "host CPU, TCP 4 streams", "s/Gbit", "lower",
     3),
    ("host_cpu_udp64_s_per_mpkt", "host CPU, UDP 64 B at max rate", "s/Mpkt",
     "lower", 3),
    ("scale_port_add_s", "scale: time to add {ports} TAP ports", "s", "lower",
     1),
    ("scale_rss_idle_mib", "scale: vswitchd RSS, idle (no switch)", "MiB", "lower",
     1),
    ("scale_rss_switch_mib", "scale: vswitchd RSS, + switch with "
     "mac-table-size {table}", "MiB", "lower", 1),
    ("scale_rss_ports_mib", "scale: vswitchd RSS, + {ports} TAP ports",
     "MiB", "lower", 1),
    ("scale_rss_macs_mib", "scale: vswitchd RSS, + {macs} MACs learned",
     "MiB", "lower", 1),
    ("scale_rss_after_fdb_show_mib", "scale: vswitchd RSS, after fdb.show",
     "MiB", "lower", 1),
    ("scale_fdb_count", "scale: fdb count after {macs} MACs", "", None, 0),
    ("scale_ping_median_us", "scale: ping median, {ports} ports + MACs", "us",
     "lower", 1),
    ("scale_port_del_s", "scale: time to delete {ports} TAP ports", "s",
     "lower", 1),
]


def fmt(value, decimals):
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) and decimals == 0:
        return str(value)
    return f"{value:.{decimals}f}"


def build_rows(results, peers, args):
    rows = []
    for key, label, unit, better, dec in ROWS:
        label = label.format(ports=args.scale_ports, macs=args.scale_macs,
                             table=scale_table_size(args))
        values, shown = {}, {}
        for p in peers:
            r = results.get(p, {})
            v = r.get(key)
            if v is None and key.startswith(("cpu_",)) and \
                    r.get("cpu_na_reason"):
                v = "n/a"
            values[p] = v
            s = fmt(v, dec)
            if key == "udp64_mpps" and r.get("udp64_generator_bound"):
                s += "*"
            shown[p] = s
        ratios = {}
        v0 = values.get("vswitch")
        for p in peers:
            if p == "vswitch":
                continue
            v = values.get(p)
            if isinstance(v0, (int, float)) and isinstance(v, (int, float)) \
                    and not isinstance(v, bool) and v and better:
                ratios[p] = v0 / v
            else:
                ratios[p] = None
        if all(values.get(p) is None for p in peers):
            continue
        rows.append({"key": key, "label": label, "unit": unit,
                     "better": better, "values": values, "shown": shown,
                     "ratios": ratios})
    return rows


# The policy table: (section, metric key, label, unit, better, decimals,
# target).  'target' bounds the ratio with/without: ">=" r for figures
# where higher is better, "<=" 1/r for latency, so both mean "at most
# 1 - r slower"; None: shown for information.
POLICY_SECTIONS = {
    "policy": ("vswitch", "vswitch-policy"),
    "lookup": ("vswitch-acl-few", "vswitch-acl-many"),
    "mirror": ("vswitch", "vswitch-mirror"),
    "metering": ("vswitch", "vswitch-metering"),
    "shaper": ("vswitch", "vswitch-shaped"),
    "baseline": ("vswitch-baseline", "vswitch"),
    "extension": ("vswitch", "vswitch-ext"),
    # The same two on the older build: the before of the two above.
    "policy-before": ("vswitch-baseline", "vswitch-policy-old"),
    "extension-before": ("vswitch-baseline", "vswitch-ext-old"),
}
POLICY_ROWS = [
    # Issue 17's targets: TCP 1 stream and 64 B rate >= 0.97, switch CPU
    # per Mpkt <= 1.02 (1 / 0.98), ping median <= 1.05 (1 / 0.952).
    ("policy", "tcp1_gbps", "TCP 1 stream", "Gbit/s", "higher", 2, 0.97),
    ("policy", "tcp4_gbps", "TCP 4 streams", "Gbit/s", "higher", 2, 0.9),
    ("policy", "udp64_mpps", "UDP 64 B, max rate with < 1 % loss", "Mpps",
     "higher", 3, 0.97),
    ("policy", "udp64_overload_mpps", "UDP 64 B delivered, unpaced sender",
     "Mpps", "higher", 3, None),
    ("policy", "ping_median_us", "ping RTT median", "us", "lower", 1,
     0.952),
    ("policy", "ping_p99_us", "ping RTT p99", "us", "lower", 1, None),
    ("policy", "cpu_tcp1_s_per_gbit", "switch CPU, TCP 1 stream", "s/Gbit",
     "lower", 3, None),
    ("policy", "cpu_tcp4_s_per_gbit", "switch CPU, TCP 4 streams", "s/Gbit",
     "lower", 3, None),
    ("policy", "cpu_udp64_s_per_mpkt", "switch CPU, UDP 64 B at max rate",
     "s/Mpkt", "lower", 3, 0.98),
    ("lookup", "udp64_mpps", "UDP 64 B, max rate with < 1 % loss", "Mpps",
     "higher", 3, 0.8),
    ("lookup", "udp64_overload_mpps", "UDP 64 B delivered, unpaced sender",
     "Mpps", "higher", 3, None),
    ("lookup", "cpu_udp64_s_per_mpkt", "switch CPU, UDP 64 B at max rate",
     "s/Mpkt", "lower", 3, None),
    # Each frame is sent twice: shown for information.
    ("mirror", "tcp1_gbps", "TCP 1 stream", "Gbit/s", "higher", 2, None),
    ("mirror", "tcp4_gbps", "TCP 4 streams", "Gbit/s", "higher", 2, None),
    ("mirror", "udp64_mpps", "UDP 64 B, max rate with < 1 % loss", "Mpps",
     "higher", 3, None),
    ("mirror", "ping_median_us", "ping RTT median", "us", "lower", 1, None),
    ("mirror", "cpu_tcp1_s_per_gbit", "switch CPU, TCP 1 stream", "s/Gbit",
     "lower", 3, None),
    ("metering", "tcp1_gbps", "TCP 1 stream", "Gbit/s", "higher", 2, 0.9),
    ("metering", "tcp4_gbps", "TCP 4 streams", "Gbit/s", "higher", 2, 0.9),
    ("metering", "udp64_mpps", "UDP 64 B, max rate with < 1 % loss", "Mpps",
     "higher", 3, 0.9),
    ("metering", "ping_median_us", "ping RTT median", "us", "lower", 1,
     None),
    ("metering", "cpu_tcp1_s_per_gbit", "switch CPU, TCP 1 stream",
     "s/Gbit", "lower", 3, None),
    ("shaper", "tcp1_gbps", "TCP 1 stream", "Gbit/s", "higher", 2, None),
    ("shaper", "tcp4_gbps", "TCP 4 streams", "Gbit/s", "higher", 2, None),
    ("shaper", "cpu_tcp1_s_per_gbit", "switch CPU, TCP 1 stream", "s/Gbit",
     "lower", 3, None),
    # This build against an older one, same ports, no policy: a change
    # must not slow down the ports that do not use what it adds.
    ("baseline", "tcp1_gbps", "TCP 1 stream", "Gbit/s", "higher", 2, 0.95),
    ("baseline", "tcp4_gbps", "TCP 4 streams", "Gbit/s", "higher", 2, 0.95),
    ("baseline", "udp64_mpps", "UDP 64 B, max rate with < 1 % loss", "Mpps",
     "higher", 3, 0.95),
    ("baseline", "ping_median_us", "ping RTT median", "us", "lower", 1,
     None),
    ("baseline", "cpu_tcp1_s_per_gbit", "switch CPU, TCP 1 stream",
     "s/Gbit", "lower", 3, None),
    ("extension", "udp64_mpps", "UDP 64 B, max rate with < 1 % loss",
     "Mpps", "higher", 3, 0.9),
    ("extension", "udp64_overload_mpps",
     "UDP 64 B delivered, unpaced sender", "Mpps", "higher", 3, None),
    ("extension", "cpu_udp64_s_per_mpkt", "switch CPU, UDP 64 B at max rate",
     "s/Mpkt", "lower", 3, None),
    ("policy-before", "tcp1_gbps", "TCP 1 stream", "Gbit/s", "higher", 2,
     None),
    ("policy-before", "udp64_mpps", "UDP 64 B, max rate with < 1 % loss",
     "Mpps", "higher", 3, None),
    ("policy-before", "ping_median_us", "ping RTT median", "us", "lower", 1,
     None),
    ("policy-before", "cpu_udp64_s_per_mpkt",
     "switch CPU, UDP 64 B at max rate", "s/Mpkt", "lower", 3, None),
    ("extension-before", "udp64_mpps", "UDP 64 B, max rate with < 1 % loss",
     "Mpps", "higher", 3, None),
    ("extension-before", "cpu_udp64_s_per_mpkt",
     "switch CPU, UDP 64 B at max rate", "s/Mpkt", "lower", 3, None),
]


def policy_legend(results):
    """What 'without' and 'with' are in each section of the policy
    table."""
    def rules(key):
        r = results.get(key, {})
        n = r.get("acl_rules_per_port")
        return ("?" if n is None else str(n)) + \
            (" (FAILED, see below)" if r.get("error") else "")
    lines = []
    if "vswitch-policy" in results:
        lines.append(f"policy: without = vswitch as above; with = vswitch "
                     f"with {rules('vswitch-policy')} ACL rules on each VM "
                     f"port and guards (DHCP, router, IP, MAC spoofing)")
    if "vswitch-mirror" in results:
        lines.append("mirror: without = vswitch as above; with = vswitch "
                     "with vm1 a mirror source and a third TAP port the "
                     "destination (every frame also sent to it)")
    if "vswitch-metering" in results:
        lines.append("metering: without = vswitch as above; with = vswitch "
                     "with metering on both VM ports and 4 meter rules each")
    shaped = results.get("vswitch-shaped", {})
    if "vswitch-shaped" in results:
        acc = [shaped.get(f"shaper_tcp{n}_accuracy") for n in (1, 4)]
        lines.append(
            f"shaper: with = vswitch with max-bandwidth={SHAPED_RATE // 10**6}M "
            f"on both VM ports; accuracy (wire rate / cap, target "
            f"0.95..1.05): TCP 1 stream {fmt(acc[0], 3)}, 4 streams "
            f"{fmt(acc[1], 3)}"
            + (" (FAILED, see below)" if shaped.get("error") else ""))
    if "vswitch-baseline" in results:
        lines.append(f"baseline: without = vswitch built from "
                     f"{results['vswitch-baseline'].get('build', '?')}; "
                     f"with = vswitch as above (this build)")
    if "vswitch-ext" in results:
        lines.append(f"extension: without = vswitch as above; with = "
                     f"vswitch with the pcap-capture sample extension on "
                     f"sw0 (sample 1 in {EXT_SAMPLE})")
    if "vswitch-policy-old" in results or "vswitch-ext-old" in results:
        lines.append("policy-before, extension-before: the same two "
                     "against vswitch-baseline, all on the older build")
    if "vswitch-acl-many" in results:
        lines.append(f"lookup: without = vswitch with "
                     f"{rules('vswitch-acl-few')} ACL rules per port; with = "
                     f"{rules('vswitch-acl-many')} rules per port "
                     f"(no guards)")
    return lines


def build_policy_rows(results):
    """Rows of the policy table for the sections whose two peers ran."""
    rows = []
    for section, key, label, unit, better, dec, target in POLICY_ROWS:
        base_key, with_key = POLICY_SECTIONS[section]
        if base_key not in results or with_key not in results:
            continue
        base = results[base_key].get(key)
        value = results[with_key].get(key)
        shown = []
        for k, v in ((base_key, base), (with_key, value)):
            text = fmt(v, dec)
            if key == "udp64_mpps" and results[k].get(
                    "udp64_generator_bound"):
                text += "*"
            shown.append(text)
        ratio = value / base if isinstance(value, (int, float)) and \
            isinstance(base, (int, float)) and base else None
        if target is None:
            goal, met = "", None
        elif better == "higher":
            goal = f">= {target:.2f}"
            met = ratio >= target if ratio is not None else None
        else:
            goal = f"<= {1 / target:.2f}"
            met = ratio <= 1 / target if ratio is not None else None
        rows.append({"section": section, "key": key, "label": label,
                     "unit": unit, "better": better, "without": base,
                     "with": value, "shown": shown, "ratio": ratio,
                     "target": goal, "met": met})
    return rows


def render_policy_table(rows):
    head = ["metric", "unit", "without", "with", "with/without", "target"]
    lines = []
    for row in rows:
        unit = row["unit"] + " (" + \
            ("^" if row["better"] == "higher" else "v") + ")"
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "-"
        target = row["target"]
        if row["met"] is not None:
            target += " met" if row["met"] else " MISSED"
        lines.append([f"{row['section']}: {row['label']}", unit] +
                     row["shown"] + [ratio, target])
    return align_table(head, lines)


def align_table(head, lines):
    """A markdown table: the first two columns left-aligned, the rest
    right-aligned."""
    widths = [max(len(str(c)) for c in col) for col in zip(head, *lines)]

    def line(cells):
        return "| " + " | ".join(
            str(c).ljust(w) if i < 2 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths))) + " |"
    sep = "|" + "|".join("-" * (w + 2) if i < 2 else "-" * (w + 1) + ":"
                         for i, w in enumerate(widths)) + "|"
    return "\n".join([line(head), sep] + [line(c) for c in lines])


def render_table(rows, peers):
    others = [p for p in peers if p != "vswitch"]
    head = ["metric", "unit"] + [PEER_TITLES[p] for p in peers] + \
        [f"vs/{p}" for p in others if "vswitch" in peers]
    lines = []
    for row in rows:
        unit = row["unit"]
        if row["better"]:
            unit += " (" + ("^" if row["better"] == "higher" else "v") + ")"
        cells = [row["label"], unit] + [row["shown"][p] for p in peers]
        if "vswitch" in peers:
            cells += [f"{row['ratios'][p]:.2f}"
                      if row["ratios"].get(p) is not None else "-"
                      for p in others]
        lines.append(cells)
    return align_table(head, lines)


# ---------------------------------------------------------------------------
# Main


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Benchmark vswitch against the Linux bridge and OVS "
                    "userspace (run as root; see docs/performance.md).")
    ap.add_argument("--quick", action="store_true",
                    help="short durations and a small scale test (smoke run)")
    ap.add_argument("--only", default=",".join(PEERS),
                    help="comma-separated peers (default: all): "
                         + ",".join(PEERS) + "; vswitch variants ("
                         + ",".join(VARIANTS) + ") named here run "
                         "instead of all of them")
    ap.add_argument("--duration", type=float, default=None,
                    help="iperf3 seconds per TCP test (default 5, quick 1)")
    ap.add_argument("--udp-step", type=float, default=None,
                    help="seconds per offered UDP rate (default 2, quick "
                         "0.5)")
    ap.add_argument("--rounds", type=int, default=None,
                    help="rounds of the TCP and ping tests, interleaved "
                         "across peers; medians are reported (default 3, "
                         "quick 1)")
    ap.add_argument("--ping-count", type=int, default=None,
                    help="pings per latency test (default 200, quick 50)")
    ap.add_argument("--scale-ports", type=int, default=None,
                    help="TAP ports in the scale test (default 1000, "
                         "quick 100)")
    ap.add_argument("--scale-macs", type=int, default=None,
                    help="MAC entries in the scale test (default 100000, "
                         "quick 10000)")
    ap.add_argument("--policy-rules", type=int, default=None,
                    help="ACL rules per port of the policy-on vswitch "
                         "(default 1000, quick 200)")
    ap.add_argument("--lookup-rules", type=int, default=None,
                    help="ACL rules per port of the lookup-cost test's "
                         "many-rules vswitch (default 3000, quick 500; "
                         f"at most {MAX_ACLS_PER_PORT}); adding them is "
                         "quadratic, see --rule-time-limit")
    ap.add_argument("--lookup-few", type=int, default=10,
                    help="ACL rules per port of its few-rules vswitch "
                         "(default 10)")
    ap.add_argument("--rule-time-limit", type=float, default=None,
                    help="seconds the lookup-cost test may spend adding "
                         "rules; past them it stops adding and measures "
                         "with what it has, and says so (default 150, "
                         "quick 30)")
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--skip-churn", action="store_true",
                    help="leave out the port churn test")
    ap.add_argument("--churn-only", action="store_true",
                    help="run only the port churn test (with "
                         "--baseline-build: before and after)")
    ap.add_argument("--churn-ports", type=int, default=None,
                    help="TAP ports of the port churn test (default 1000, "
                         "quick 100)")
    ap.add_argument("--churn-rounds", type=int, default=None,
                    help="rounds of the port churn test, alternating "
                         "builds; medians are reported (default 3, quick "
                         "1)")
    ap.add_argument("--skip-udp", action="store_true")
    ap.add_argument("--skip-shaper", action="store_true",
                    help="leave out the vswitch-shaped variant")
    ap.add_argument("--skip-policy", action="store_true",
                    help="leave out the policy-on vswitch")
    ap.add_argument("--skip-lookup", action="store_true",
                    help="leave out the ACL lookup-cost test")
    ap.add_argument("--skip-mirror", action="store_true",
                    help="leave out the vswitch with a port mirror")
    ap.add_argument("--skip-ext", action="store_true",
                    help="leave out the vswitch with a capture extension")
    ap.add_argument("--skip-metering", action="store_true",
                    help="leave out the metering-on vswitch")
    ap.add_argument("--workers", type=int, default=2,
                    help="vswitchd --workers (default 2)")
    ap.add_argument("--build", default=str(TOP / "build" / "release"),
                    help="vswitch build directory")
    ap.add_argument("--baseline-build", default=None,
                    help="an older vswitch build directory: adds the "
                    "variant vswitch-baseline, measured in the same run, "
                    "and the ratio of this build to it")
    ap.add_argument("--json", default=None,
                    help=f"where to write the results (default "
                         f"{DEFAULT_JSON.relative_to(TOP)}, with --quick "
                         f"{QUICK_JSON.relative_to(TOP)})")
    args = ap.parse_args(argv)
    q = args.quick
    if args.duration is None:
        args.duration = 1 if q else 5
    if args.udp_step is None:
        args.udp_step = 0.5 if q else 2.0
    if args.json is None:
        args.json = str(QUICK_JSON if q else DEFAULT_JSON)
    if args.rounds is None:
        args.rounds = 1 if q else 3
    args.rounds = max(1, args.rounds)
    if args.ping_count is None:
        args.ping_count = 50 if q else 200
    if args.scale_ports is None:
        args.scale_ports = 100 if q else 1000
    if args.scale_macs is None:
        args.scale_macs = 10000 if q else 100000
    args.scale_ports = max(2, args.scale_ports)
    if args.churn_ports is None:
        args.churn_ports = 100 if q else 1000
    if args.churn_rounds is None:
        args.churn_rounds = 1 if q else 3
    args.churn_ports = max(1, min(args.churn_ports, 4096))
    if args.policy_rules is None:
        args.policy_rules = 200 if q else 1000
    if args.lookup_rules is None:
        args.lookup_rules = 500 if q else 10000
    if args.rule_time_limit is None:
        args.rule_time_limit = 30 if q else 150
    for opt in ("policy_rules", "lookup_rules", "lookup_few"):
        n = getattr(args, opt)
        if not 6 <= n <= MAX_ACLS_PER_PORT:
            ap.error(f"--{opt.replace('_', '-')} must be between 6 and "
                     f"{MAX_ACLS_PER_PORT}")
    args.udp_ladder = [0.1, 0.4, 1.0] if q else \
        [0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0, 1.5, 2.0]
    args.udp_bisect = 1 if q else 3
    named = [p.strip() for p in args.only.split(",") if p.strip()]
    args.peers = [p for p in named if p not in VARIANTS]
    for p in args.peers:
        if p not in PEERS:
            ap.error(f"unknown peer '{p}' (choose from "
                     f"{', '.join(PEERS + list(VARIANTS))})")
    args.variants = [p for p in named if p in VARIANTS]
    if args.variants and "vswitch" not in args.peers:
        ap.error("vswitch variants are measured against vswitch: name it "
                 "too")
    if "vswitch" in args.peers and not args.variants:
        if not args.skip_shaper:
            args.variants.append("vswitch-shaped")
        if not args.skip_policy:
            args.variants.append("vswitch-policy")
        if not args.skip_lookup and not args.skip_udp:
            args.variants += ["vswitch-acl-few", "vswitch-acl-many"]
        if not args.skip_mirror:
            args.variants.append("vswitch-mirror")
        if not args.skip_metering:
            args.variants.append("vswitch-metering")
        if not args.skip_ext and not args.skip_udp:
            args.variants.append("vswitch-ext")
    if args.baseline_build and "vswitch" in args.peers and \
            "vswitch-baseline" not in args.variants:
        args.variants.append("vswitch-baseline")
        # The before of the policy and extension ratios, same run.
        for new, old in (("vswitch-policy", "vswitch-policy-old"),
                         ("vswitch-ext", "vswitch-ext-old")):
            if new in args.variants and old not in args.variants:
                args.variants.append(old)
    for needs in ("vswitch-baseline", "vswitch-policy-old",
                  "vswitch-ext-old"):
        if needs in args.variants and not args.baseline_build:
            ap.error(f"{needs} needs --baseline-build DIR")
    args.vswitchd = Path(args.build) / "vswitchd" / "vswitchd"
    args.baseline_vswitchd = Path(args.baseline_build or ".") / \
        "vswitchd" / "vswitchd"
    return args


def main(argv):
    if argv[:1] == ["_inject"]:
        inject_frames(argv[1], argv[2], int(argv[3]), int(argv[4]))
        return 0
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("bench.py: run as root (namespaces, TAPs, OVS)",
              file=sys.stderr)
        return 2
    if "vswitch" in args.peers and not args.vswitchd.exists():
        print(f"bench.py: {args.vswitchd} not built (scripts/build.sh "
              "release)", file=sys.stderr)
        return 2
    for tool in ("iperf3", "trafgen", "ping", "tc", "ethtool"):
        if not shutil.which(tool):
            print(f"bench.py: {tool} missing: run "
                  "scripts/install-perf-deps.sh", file=sys.stderr)
            return 2

    atexit.register(final_cleanup)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    workdir = Path(tempfile.mkdtemp(prefix=f"vswitch-perf-{PREFIX}-"))
    JANITOR.add("workdir", lambda: shutil.rmtree(workdir,
                                                 ignore_errors=True))
    busy0 = host_busy_seconds()
    time.sleep(1.0)
    background = host_busy_seconds() - busy0
    log(f"background load before the run: {background:.2f} of "
        f"{os.cpu_count()} cores busy")
    started = time.monotonic()
    date = datetime.datetime.now(datetime.timezone.utc)
    if args.churn_only:
        churn = wl_churn(args, workdir)
        final_cleanup()
        print()
        print(f"vswitch port churn, {date:%Y-%m-%d %H:%M} UTC, "
              f"{platform.node()}, {os.cpu_count()} CPUs, vswitch "
              f"{git_describe()}; background load before it: "
              f"{background:.2f} of {os.cpu_count()} cores busy")
        print()
        print(render_churn(churn, args))
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"churn": churn}, indent=2))
        return 0
    results = run_peers(args, workdir)
    if "vswitch" in args.peers and not args.skip_scale:
        results["vswitch"].update(wl_scale(args, workdir))
    churn = wl_churn(args, workdir) \
        if "vswitch" in args.peers and not args.skip_churn else None
    final_cleanup()
    elapsed = time.monotonic() - started

    rows = build_rows(results, args.peers, args)
    table = render_table(rows, args.peers)
    print()
    print(f"vswitch benchmark, {date:%Y-%m-%d %H:%M} UTC, "
          f"{platform.node()}, kernel {platform.release()}, "
          f"{os.cpu_count()} CPUs, vswitch {git_describe()}"
          f"{', quick' if args.quick else ''}")
    print(f"TCP {args.duration:g} s per test and {args.ping_count} pings, "
          f"median of {args.rounds} round(s); UDP {args.udp_step:g} s per "
          f"offered rate; whole run "
          f"{elapsed:.0f} s; background load before it: {background:.2f} of "
          f"{os.cpu_count()} cores busy")
    print()
    print(table)
    print()
    print("(^) higher is better, (v) lower is better; vs/PEER = vswitch / "
          "PEER.")
    print("CPU s/Gbit = CPU cores busy per Gbit/s; s/Mpkt = cores per Mpps. "
          "switch CPU: the switch process (utime+stime); host CPU: every "
          "core, everything (VMs' stacks, generators, other load).")
    if any(results[p].get("udp64_generator_bound")
           for p in args.peers + args.variants):
        print("* generator-bound: trafgen could not offer more on this "
              "machine; the switch lost < 1 % at the highest rate offered.")
    policy_rows = build_policy_rows(results)
    policy_table = render_policy_table(policy_rows) if policy_rows else ""
    if policy_table:
        print()
        print("Port policy (vswitch only; each 'with' and the lookup test's "
              "'without' is a vswitchd of its own, measured interleaved "
              "with the other peers"
              f"{'; quick: fewer rules' if args.quick else ''}):")
        print()
        print(policy_table)
        print()
        for line in policy_legend(results):
            print(line)
        print("target: bounds with/without, >= r where higher is better, "
              "<= 1/r for latency (at most 1 - r slower).")
        for key in args.variants:
            if results[key].get("acl_add_rpcs") is not None:
                print(f"ACL rules added, {PEER_TITLES[key]}: "
                      f"{rules_added_text(results[key])}.")
    if churn:
        print()
        print(render_churn(churn, args))
    for p in args.peers + args.variants:
        r = results[p]
        extra = []
        if r.get("vm_offloads"):
            extra.append(f"VM interface: {r['vm_offloads']}")
        extra += r.get("notes", [])
        if r.get("cpu_na_reason"):
            extra.append(f"switch CPU n/a: {r['cpu_na_reason']}")
        if r.get("error"):
            extra.append(f"FAILED: {r['error']}")
        extra += [f"error: {e}" for e in r.get("errors", [])]
        extra += [f"UDP: {e}" for e in r.get("udp_errors", [])]
        if extra:
            print(f"{PEER_TITLES[p]}: " + "; ".join(extra))

    report = {
        "date": date.isoformat(timespec="seconds"),
        "host": platform.node(), "kernel": platform.release(),
        "cpus": os.cpu_count(), "vswitch_version": git_describe(),
        "quick": args.quick, "seconds": round(elapsed, 1),
        "background_cores_busy": round(background, 2),
        "settings": {"tcp_seconds": args.duration, "rounds": args.rounds,
                     "udp_step_seconds": args.udp_step,
                     "ping_count": args.ping_count,
                     "udp_ladder_mpps": args.udp_ladder,
                     "scale_ports": args.scale_ports,
                     "scale_macs": args.scale_macs,
                     "workers": args.workers,
                     "policy_rules": args.policy_rules,
                     "lookup_rules": args.lookup_rules,
                     "lookup_few": args.lookup_few,
                     "rule_time_limit_s": args.rule_time_limit},
        "peers": results,
        "rows": [{k: v for k, v in row.items() if k != "shown"}
                 for row in rows],
        "table": table,
        "policy_rows": [{k: v for k, v in row.items() if k != "shown"}
                        for row in policy_rows],
        "policy_table": policy_table,
        "churn": churn,
    }
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nJSON: {out}")
    failed = [p for p in args.peers if results[p].get("error")]
    return 1 if failed and len(failed) == len(args.peers) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
