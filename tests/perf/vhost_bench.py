#!/usr/bin/python3
"""vhost-user benchmark (issue 16): vswitch beside OVS-DPDK, in one run.

The guests are DPDK testpmd processes with net_virtio_user devices (a real
virtio driver, no VM, no hugepages: --no-huge -m 512).  Each switch gets
the same ports:

  bridge A: vh1, vh2 (vhost-user)     loop and guest -> guest
  bridge B: vh3 (vhost-user), tap     guest -> TAP and TAP -> guest

Scenarios, each one window of --duration seconds, --rounds rounds,
interleaved (round 1: vswitch then OVS-DPDK, round 2: ...), medians:

  loop     one testpmd, two ports (vh1, vh2), io forwarding, tx_first:
           frames circle guest -> switch -> guest forever
  g2g      testpmd txonly on vh1 -> testpmd rxonly on vh2
  g2tap    testpmd txonly on vh3 -> the TAP (its namespace drops them)
  g2tap1514  the same with 1514-byte frames (not run by default: ask for
           it with --scenarios): where the copies of a frame, not the
           per-frame costs, would show
  tap2g    trafgen in the TAP's namespace -> testpmd rxonly on vh3

Mpps = frames the switch delivered out of its egress port in the window
(switch counters, read at the window's edges); cycles per packet = the
switch process's CPU time in the window (utime + stime of every thread,
/proc/PID/stat) x the nominal clock (/proc/cpuinfo "cpu MHz") / frames
delivered.  Both switches busy-poll, so this counts idle polls too: it is
the cost of a core per packet, comparable between the two only where the
switch, not the guest, is the limit (the loop).  No hardware counters here
(perf stat: cycles <not supported>), hence CPU time.

Two cores: at most two polling threads run at once.  The switch has one
polling thread pinned to CPU 0 (vswitchd --workers 1 --busy-poll, taskset; OVS
pmd-cpu-mask=0x1, its main thread pinned to CPU 1), and the guests run on
CPU 1 (testpmd -l 0,1: lcore 1 forwards, the main lcore 0 only prints
statistics once a second).  Where a
scenario needs two guests (g2g: a sender and a receiver; tap2g: trafgen and
a receiver), both are pinned to CPU 1 and share it.  Only one switch runs
at a time.

vswitch's TAP port has offloads (virtio-net headers, TSO) as by default;
--tap-offloads off adds it with offloads=false, plain frames as OVS's
type=tap port (OVS without userspace TSO) writes them.

Run as root: ./tests/perf/run vhost [--rounds N] [--duration S]
"""

import argparse
import datetime
import fcntl
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (helpers: sh, spawn, Janitor, namespaces)
from bench import (JANITOR, PREFIX, BenchError, kill_group, log,  # noqa: E402
                   make_ns, sh, spawn)

TOP = Path(__file__).resolve().parents[2]
OVS_DPDK = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk"
TESTPMD = shutil.which("dpdk-testpmd")
SCENARIOS = ["loop", "g2g", "g2tap", "tap2g"]
TITLES = {"loop": "loop io+tx_first (both directions)",
          "g2g": "guest -> guest (one direction)",
          "g2tap": "guest -> TAP", "tap2g": "TAP -> guest",
          "g2tap1514": "guest -> TAP, 1514-byte frames"}
SWITCH_CPU, GUEST_CPU = 0, 1
# The guests' MACs (virtio_user mac=): vh1..vh3.
GUEST_MAC = {1: "02:00:00:16:00:01", 2: "02:00:00:16:00:02",
             3: "02:00:00:16:00:03"}
UNKNOWN_MAC = "02:00:00:16:00:99"  # nobody has it: flooded to the TAP


def nominal_hz():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("cpu MHz"):
            return float(line.split(":")[1]) * 1e6
    raise BenchError("no 'cpu MHz' in /proc/cpuinfo")


def cpu_seconds(pid):
    return bench.proc_cpu_seconds([pid])


class Guest:
    """A testpmd guest: one lcore (GUEST_CPU), its ports on 'socks'."""

    def __init__(self, workdir, socks, mode, server, extra=()):
        self.prefix = f"{PREFIX}g{len(list(workdir.glob('*.testpmd')))}"
        self.out = workdir / f"{self.prefix}.testpmd"
        # lcore SWITCH_CPU is testpmd's main lcore: it only prints the
        # statistics once a second; lcore GUEST_CPU forwards.
        cmd = [TESTPMD, "-l", f"{SWITCH_CPU},{GUEST_CPU}",
               "--main-lcore", str(SWITCH_CPU), "--no-pci", "--no-huge",
               "-m", "512", "--file-prefix", self.prefix]
        for i, (sock, mac) in enumerate(socks):
            vdev = f"net_virtio_user{i},path={sock},mac={mac},queue_size=1024"
            if server:
                vdev += ",server=1"
            cmd += ["--vdev", vdev]
        cmd += ["--", "--total-num-mbufs=32768", f"--forward-mode={mode}",
                "--auto-start", "--stats-period=1", "--txd=1024",
                "--rxd=1024", *extra]
        self.proc = spawn(cmd, stdout=open(self.out, "w"),
                          stderr=subprocess.STDOUT)
        JANITOR.add(f"testpmd {self.prefix}", self.stop)

    def text(self):
        return self.out.read_text(errors="replace")

    def forwarding(self):
        if self.proc.poll() is not None:
            raise BenchError(f"testpmd exited: {self.text()[-800:]}")
        return "Port statistics" in self.text()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                kill_group(self.proc, signal.SIGKILL)
        shutil.rmtree(f"/var/run/dpdk/{self.prefix}", ignore_errors=True)


def wait(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out waiting for {what}")
        time.sleep(0.1)


class Switch:
    """Common to both peers: setup(), stop(), delivered(port), pid, and
    server: whether the guests are vhost-user servers (OVS's
    dpdkvhostuserclient ports) or clients (vswitch's server-mode ports)."""

    def sock(self, i):
        return str(self.dir / f"vh{i}.sock")


class BusyVswitchd(bench.Vswitchd):
    """bench.Vswitchd started with --busy-poll: the worker spins like
    OVS's PMD thread instead of sleeping on the guests' kicks."""

    def start(self, workers=1):
        binary = self.binary
        wrapper = self.state.parent / "vswitchd-busy-poll"
        self.state.parent.mkdir(parents=True, exist_ok=True)
        wrapper.write_text(f'#!/bin/sh\nexec {binary} --busy-poll "$@"\n')
        wrapper.chmod(0o755)
        self.binary = wrapper
        try:
            super().start(workers=workers)
        finally:
            self.binary = binary


class VswitchPeer(Switch):
    key, title, server = "vswitch", "vswitch", False

    def __init__(self, args, workdir, baseline=False):
        self.dir = workdir / ("vswitch-baseline" if baseline else "vswitch")
        self.binary = args.baseline_vswitchd if baseline else args.vswitchd
        self.tap_offloads = args.tap_offloads == "on"
        self.daemon = None

    def setup(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        self.daemon = BusyVswitchd(self.binary, self.dir / "state")
        self.daemon.start(workers=1)
        self.pid = self.daemon.proc.pid
        # The worker (and with it the whole daemon: its control thread
        # is idle while we measure) on the switch's core.
        sh(["taskset", "-a", "-p", "-c", str(SWITCH_CPU), str(self.pid)])
        self.daemon.rpc("switch.add", {"name": "swa"})
        self.daemon.rpc("switch.add", {"name": "swb"})
        for i, sw in ((1, "swa"), (2, "swa"), (3, "swb")):
            self.daemon.rpc("port.add", {"switch": sw, "name": f"vh{i}",
                                         "type": "vhost-user",
                                         "socket": self.sock(i)})
            self.daemon.ports.add(f"vh{i}")
        self.tap = f"{PREFIX}vt"
        self.daemon.add_tap("swb", "tap", self.tap,
                            offloads=self.tap_offloads)
        self.ns = make_ns(f"{PREFIX}-vt")
        sh(["ip", "link", "set", self.tap, "netns", self.ns])
        sh(["ip", "-n", self.ns, "link", "set", self.tap, "up"])

    def attached(self, i):
        st = self.daemon.rpc("port.get", {"name": f"vh{i}"})["vhost-user"]
        return st["connected"] and st["rings"] >= 2

    def delivered(self, port):
        st = self.daemon.rpc("port.stats", {"name": port})["ports"][0]
        return st["tx-packets"]

    def processing_start(self):
        self.loads = []
        self.packets0 = self.worker()["packets"]

    def processing_sample(self):
        self.loads.append(self.worker()["load"])

    def processing_cycles(self, seconds, hz):
        """Cycles the worker spent on batches that had frames, per frame
        it received: its 'load' (dp.show, sampled about once a second)
        averaged over the window, x the window x the clock / frames."""
        packets = self.worker()["packets"] - self.packets0
        if not packets or not self.loads:
            return None
        return statistics.mean(self.loads) * seconds * hz / packets

    def worker(self):
        return self.daemon.rpc("dp.show", {})["workers"][0]

    def stop(self):
        if self.daemon:
            self.daemon.check_log(notes := [])
            for n in notes:
                log(f"vswitch: {n}")
            self.daemon.stop()


class OvsDpdkPeer(Switch):
    """Debian's OVS 3.1 with DPDK 22.11, private ovsdb, no hugepages, one
    PMD thread on SWITCH_CPU, dpdkvhostuserclient ports, a type=tap port.
    ovs-vswitchd runs in a namespace of its own (its TAP and bridge
    devices never collide with anyone's and vanish with it)."""
    key, title, server = "ovs-dpdk", "OVS-DPDK", True

    def __init__(self, args, workdir):
        self.args, self.dir = args, workdir / "ovs"
        self.env = None
        self.db = self.proc = None

    def vsctl(self, *a, timeout=60):
        return sh(["ovs-vsctl", f"--db=unix:{self.dir}/db.sock",
                   f"--timeout={timeout}", *a], env=self.env,
                  timeout=timeout + 10)

    def appctl(self, *a):
        return sh(["ovs-appctl", "-t", f"{self.dir}/ovs-vswitchd.ctl", *a],
                  env=self.env, timeout=30).stdout

    def setup(self):
        # One userspace OVS at a time on this machine (bench.py, the
        # system tests' OVS peer hold the same lock).
        self.lock = open(bench.OVS_LOCK, "a")
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        JANITOR.add("ovs lock", self.lock.close)
        self.dir.mkdir(parents=True, exist_ok=True)
        d = str(self.dir)
        self.env = dict(os.environ, OVS_RUNDIR=d, OVS_LOGDIR=d, OVS_DBDIR=d,
                        OVS_SYSCONFDIR=d)
        sh(["ovsdb-tool", "create", f"{d}/conf.db", bench.OVS_SCHEMA],
           env=self.env)
        self.db = spawn(["ovsdb-server", f"{d}/conf.db",
                         f"--remote=punix:{d}/db.sock",
                         f"--unixctl={d}/ovsdb-server.ctl",
                         f"--pidfile={d}/ovsdb-server.pid",
                         f"--log-file={d}/ovsdb-server.log", "-vconsole:off"],
                        env=self.env)
        JANITOR.add("ovsdb-server", lambda: kill_group(self.db))
        wait(lambda: (self.dir / "db.sock").exists(), 20, "ovsdb-server")
        self.vsctl("--no-wait", "init")
        self.vsctl("--no-wait", "set", "Open_vSwitch", ".",
                   "other_config:dpdk-init=true",
                   f"other_config:pmd-cpu-mask=0x{1 << SWITCH_CPU:x}",
                   # --legacy-mem: else OVS adds --in-memory, which
                   # DPDK refuses together with --no-huge.
                   'other_config:dpdk-extra="--no-pci --no-huge '
                   f'--legacy-mem -m 2048 --file-prefix {PREFIX}ovs"')
        ns = make_ns(f"{PREFIX}-ovs")
        self.proc = spawn(["taskset", "-c", str(GUEST_CPU), OVS_DPDK,
                           f"unix:{d}/db.sock",
                           f"--unixctl={d}/ovs-vswitchd.ctl",
                           f"--pidfile={d}/ovs-vswitchd.pid",
                           f"--log-file={d}/ovs-vswitchd.log",
                           "-vconsole:off"], ns=ns, env=self.env)
        JANITOR.add("ovs-vswitchd-dpdk", self.kill)
        pidfile = self.dir / "ovs-vswitchd.pid"

        def started():
            if self.proc.poll() is not None:
                log_text = (self.dir / "ovs-vswitchd.log").read_text()
                raise BenchError(f"ovs-vswitchd-dpdk exited:\n"
                                 f"{log_text[-1500:]}")
            try:
                self.pid = int(pidfile.read_text().split()[0])
                return True
            except (OSError, ValueError, IndexError):
                return False
        wait(started, 60, "ovs-vswitchd-dpdk")
        self.vsctl("add-br", "bra", "--", "set", "bridge", "bra",
                   "datapath_type=netdev")
        self.vsctl("add-br", "brb", "--", "set", "bridge", "brb",
                   "datapath_type=netdev")
        for i, br in ((1, "bra"), (2, "bra"), (3, "brb")):
            self.vsctl("add-port", br, f"vh{i}", "--", "set", "Interface",
                       f"vh{i}", "type=dpdkvhostuserclient",
                       f"options:vhost-server-path={self.sock(i)}")
        self.tap = f"{PREFIX}ot"
        self.vsctl("add-port", "brb", self.tap, "--", "set", "Interface",
                   self.tap, "type=tap")
        self.ns = make_ns(f"{PREFIX}-ot")
        sh(["ip", "-n", ns, "link", "set", self.tap, "netns", self.ns])
        sh(["ip", "-n", self.ns, "link", "set", self.tap, "up"])

    def attached(self, i):
        # The datapath lists the port once it is up; the guest forwarding
        # (checked first) means its rings run.
        return self.port_stats(f"vh{i}") is not None

    def port_stats(self, port):
        """{'rx': n, 'tx': n} of 'port' from the datapath itself
        (dpctl/show -s: live; the database's statistics lag by 5 s)."""
        out = self.appctl("dpctl/show", "-s")
        m = re.search(rf"port \d+: {re.escape(port)}\b.*?\n\s*RX packets:"
                      rf"(\d+).*?\n.*?TX packets:(\d+)", out, re.S)
        return {"rx": int(m.group(1)), "tx": int(m.group(2))} if m else None

    def delivered(self, port):
        return self.port_stats(port)["tx"]

    def processing_start(self):
        self.appctl("dpif-netdev/pmd-stats-clear")

    def processing_sample(self):
        pass

    def processing_cycles(self, seconds, hz):
        """OVS's own figure: the PMD's 'avg processing cycles per
        packet' (cycles in iterations that had packets / packets), since
        pmd-stats-clear at the window's start."""
        out = self.appctl("dpif-netdev/pmd-stats-show")
        m = re.search(r"avg processing cycles per packet:\s*([\d.]+)", out)
        return float(m.group(1)) if m else None

    def kill(self):
        kill_group(self.proc, signal.SIGTERM, wait=20)
        shutil.rmtree(f"/var/run/dpdk/{PREFIX}ovs", ignore_errors=True)

    def stop(self):
        log_file = self.dir / "ovs-vswitchd.log"
        if log_file.exists():
            bad = [ln for ln in log_file.read_text().splitlines()
                   if "|ERR|" in ln or "|EMER|" in ln]
            if bad:
                log(f"ovs-dpdk: {len(bad)} ERR lines, last: {bad[-1][-200:]}")


def trafgen(peer, workdir, seconds):
    """64-byte frames from the TAP's namespace at full speed, on
    GUEST_CPU, to UNKNOWN_MAC (the switch floods them to vh3)."""
    cfg = workdir / "tap2g.cfg"
    dst = ", ".join(f"0x{b}" for b in UNKNOWN_MAC.split(":"))
    src = "0x02, 0x00, 0x00, 0x16, 0x00, 0x42"
    cfg.write_text(f"{{ {dst}, {src}, 0x08, 0x00, fill(0x00, 46) }}\n")
    return spawn(["timeout", str(int(seconds) + 5), "trafgen", "--dev",
                  peer.tap, "--conf", str(cfg), "--cpus", "1", "-q",
                  "--no-sock-mem"], ns=peer.ns)


def run_scenario(peer, scenario, args, workdir):
    """One measurement window; returns {mpps, cycles_per_packet}."""
    guests, gen = [], None
    mac = GUEST_MAC
    if scenario == "loop":
        guests.append(Guest(workdir, [(peer.sock(1), mac[1]),
                                      (peer.sock(2), mac[2])], "io",
                            peer.server,
                            ["--tx-first", f"--eth-peer=0,{mac[2]}",
                             f"--eth-peer=1,{mac[1]}"]))
        ports, attach = ["vh1", "vh2"], [1, 2]
    elif scenario == "g2g":
        # The receiver first: the sender's first frames then find a ring.
        guests.append(Guest(workdir, [(peer.sock(2), mac[2])], "rxonly",
                            peer.server))
        guests.append(Guest(workdir, [(peer.sock(1), mac[1])], "txonly",
                            peer.server, [f"--eth-peer=0,{mac[2]}"]))
        ports, attach = ["vh2"], [1, 2]
    elif scenario in ("g2tap", "g2tap1514"):
        size = ["--txpkts=1514"] if scenario == "g2tap1514" else []
        guests.append(Guest(workdir, [(peer.sock(3), mac[3])], "txonly",
                            peer.server,
                            [f"--eth-peer=0,{UNKNOWN_MAC}", *size]))
        ports, attach = ["tap"], [3]
    else:
        guests.append(Guest(workdir, [(peer.sock(3), mac[3])], "rxonly",
                            peer.server))
        ports, attach = ["vh3"], [3]
    try:
        wait(lambda: all(g.forwarding() for g in guests), 60,
             f"{scenario}: testpmd forwarding")
        wait(lambda: all(peer.attached(i) for i in attach), 30,
             f"{scenario}: vhost-user ports attached")
        if scenario == "tap2g":
            gen = trafgen(peer, workdir, args.duration + args.warmup + 2)
        time.sleep(args.warmup)  # steady state: rings full, MACs learned
        hz = nominal_hz()

        def sample():
            n = sum(delivered(peer, p) for p in ports)
            return time.monotonic(), cpu_seconds(peer.pid), n
        peer.processing_start()
        t0, c0, n0 = sample()
        end = t0 + args.duration
        while time.monotonic() < end:
            time.sleep(min(1.0, max(0.0, end - time.monotonic())))
            peer.processing_sample()
        t1, c1, n1 = sample()
        packets = n1 - n0
        return {"mpps": packets / (t1 - t0) / 1e6,
                "cycles_per_packet": (c1 - c0) * hz / packets
                if packets else None,
                "processing_cycles": peer.processing_cycles(t1 - t0, hz),
                "switch_cpu": (c1 - c0) / (t1 - t0)}
    finally:
        if gen:
            kill_group(gen)
        for g in guests:
            g.stop()
        # The port must see the guest leave before the next one comes.
        time.sleep(0.5)


def delivered(peer, port):
    if port == "tap":
        return bench.link_stats(peer.ns, peer.tap)["rx_packets"]
    return peer.delivered(port)


def fmt(v, d):
    return "-" if v is None else f"{v:.{d}f}"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--only", default="vswitch,ovs-dpdk")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--build", default=str(TOP / "build" / "release"))
    ap.add_argument("--json", default=None)
    ap.add_argument("--tap-offloads", choices=["on", "off"], default="on",
                    help="vswitch's TAP port with offloads (default) or "
                    "plain frames, as OVS's TAP")
    ap.add_argument("--baseline-build", default=None,
                    help="another build's vswitchd as peer "
                    "'vswitch-baseline' (measure a change in one run)")
    args = ap.parse_args(argv)
    args.vswitchd = Path(args.build) / "vswitchd" / "vswitchd"
    args.baseline_vswitchd = Path(args.baseline_build or ".") / \
        "vswitchd" / "vswitchd"
    peers_wanted = args.only.split(",")
    if args.baseline_build and "vswitch-baseline" not in peers_wanted:
        peers_wanted.append("vswitch-baseline")
    scenarios = args.scenarios.split(",")
    if os.geteuid() != 0:
        print("vhost_bench.py: run as root", file=sys.stderr)
        return 2
    for tool, hint in ((TESTPMD, "dpdk"), (shutil.which("trafgen"),
                                           "netsniff-ng")):
        if not tool:
            print(f"vhost_bench.py: missing {hint}: run "
                  "scripts/install-perf-deps.sh", file=sys.stderr)
            return 2
    if "ovs-dpdk" in peers_wanted and not os.access(OVS_DPDK, os.X_OK):
        print(f"vhost_bench.py: {OVS_DPDK} missing (openvswitch-switch-dpdk;"
              " scripts/install-perf-deps.sh)", file=sys.stderr)
        return 2
    import atexit
    atexit.register(bench.final_cleanup)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, bench.on_signal)
    workdir = Path(tempfile.mkdtemp(prefix=f"vswitch-vhost-{PREFIX}-"))
    JANITOR.add("workdir", lambda: shutil.rmtree(workdir,
                                                 ignore_errors=True))
    classes = {"vswitch": VswitchPeer, "ovs-dpdk": OvsDpdkPeer,
               "vswitch-baseline":
               lambda a, w: VswitchPeer(a, w, baseline=True)}
    results = {p: {s: [] for s in scenarios} for p in peers_wanted}
    started = time.monotonic()
    failures = []
    for rnd in range(args.rounds):
        for key in peers_wanted:
            mark = JANITOR.mark()
            peer = classes[key](args, workdir / f"r{rnd}")
            try:
                peer.setup()
                for s in scenarios:
                    try:
                        r = run_scenario(peer, s, args, workdir)
                    except BenchError as e:
                        # One failed window (a guest that did not come
                        # up) costs that sample, not the run.
                        log(f"round {rnd + 1} {key} {s}: FAILED: {e}")
                        failures.append(f"round {rnd + 1} {key} {s}: {e}")
                        continue
                    log(f"round {rnd + 1} {key} {s}: {r['mpps']:.3f} Mpps, "
                        f"{fmt(r['cycles_per_packet'], 0)} cycles/packet, "
                        f"{fmt(r['processing_cycles'], 0)} processing, "
                        f"switch {r['switch_cpu']:.2f} cores")
                    results[key][s].append(r)
            except BenchError as e:
                log(f"round {rnd + 1} {key}: set-up FAILED: {e}")
                failures.append(f"round {rnd + 1} {key}: {e}")
            finally:
                peer.stop()
                JANITOR.unwind(mark)
    elapsed = time.monotonic() - started

    def med(key, s, field):
        vals = [r[field] for r in results.get(key, {}).get(s, [])
                if r[field] is not None]
        return statistics.median(vals) if vals else None

    date = datetime.datetime.now(datetime.timezone.utc)
    print(f"\nvhost-user benchmark, {date:%Y-%m-%d %H:%M} UTC, "
          f"{platform.node()}, {os.cpu_count()} CPUs, "
          f"{nominal_hz() / 1e6:.0f} MHz nominal, vswitch "
          f"{bench.git_describe()}, TAP offloads {args.tap_offloads}; "
          f"{args.duration:g} s windows, median of "
          f"{args.rounds} round(s), whole run {elapsed:.0f} s\n")
    head = ["scenario", "vswitch Mpps", "OVS-DPDK Mpps", "ratio",
            "vswitch cyc/pkt", "OVS-DPDK cyc/pkt", "ratio",
            "vswitch proc cyc/pkt", "OVS-DPDK proc cyc/pkt", "ratio"]
    lines = []
    for s in scenarios:
        row = [TITLES[s]]
        for field, d in (("mpps", 3), ("cycles_per_packet", 0),
                         ("processing_cycles", 0)):
            a, b = med("vswitch", s, field), med("ovs-dpdk", s, field)
            row += [fmt(a, d), fmt(b, d), fmt(a / b if a and b else None, 2)]
        lines.append(row)
    print(bench.align_table(head, lines))
    print("\ncyc/pkt: the switch process's CPU time x nominal clock / "
          "frames delivered (idle polls included); proc cyc/pkt: cycles "
          "in polls that found frames / frames received (vswitch: dp.show "
          "load; OVS: pmd-stats-show).")
    if "vswitch-baseline" in results:
        print("\nThis build against --baseline-build (vswitch / baseline):\n")
        lines = []
        for s in scenarios:
            row = [TITLES[s]]
            for field, d in (("mpps", 3), ("cycles_per_packet", 0),
                             ("processing_cycles", 0)):
                a = med("vswitch", s, field)
                b = med("vswitch-baseline", s, field)
                row += [fmt(a, d), fmt(b, d), fmt(a / b if a and b else None,
                                                  2)]
            lines.append(row)
        print(bench.align_table(["scenario", "Mpps", "baseline Mpps",
                                 "ratio", "cyc/pkt", "baseline cyc/pkt",
                                 "ratio", "proc cyc/pkt",
                                 "baseline proc cyc/pkt", "ratio"], lines))
    for f in failures:
        print(f"FAILED (sample left out): {f[:300]}")
    out = Path(args.json) if args.json else \
        TOP / "tests" / "perf" / "results" / "vhost-latest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"date": date.isoformat(), "args": {
        "rounds": args.rounds, "duration": args.duration,
        "tap_offloads": args.tap_offloads},
        "results": results, "failures": failures}, indent=1) + "\n")
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
