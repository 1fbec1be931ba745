"""Soak test (issue 11, ROBUSTNESS.md): a daemon of the ASan build, with
LeakSanitizer on, carries traffic from four namespaced VMs at the highest
rate the machine gives while its configuration churns over JSON-RPC and it
is killed with SIGKILL and restarted once a minute.

    SOAK_MINUTES=30 VSW_BUILD_DIR=$PWD/build/asan \\
        /usr/bin/python3 -m pytest -p no:cacheprovider -q -s tests/soak

It runs 3 minutes unless SOAK_MINUTES says otherwise (scripts/test.sh runs
it with CI=true after the system tests, alone).  Each VM sends, from a
process of its own, a mix of valid UDP frames to the other VMs and the
malformed frames of the fuzz corpus (tests/fuzz/corpus/flow and guard:
ROBUSTNESS.md's cases and the system tests' frames), each addressed to a
peer's MAC so that a frame either reaches exactly one port or is dropped.
Meanwhile ports come and go (TAPs in VLAN 999, away from the VMs'
traffic), ACLs are replaced (some deny a peer, so frames are dropped under
"acl-deny"), an extension (dnsblock) is enabled and disabled, and
metering is on for the VMs' ports.

It passes when:
  - in every daemon lifetime, with the senders paused and the queues
    drained before the kill: frames received by the VMs' ports == frames
    dropped there by a named reason + frames sent to them (every frame is
    accounted for), and each port's metered totals moved exactly as much
    as its counters (out: received, in: sent);
  - the daemon's RSS and open fds are flat: sampled from /proc every
    second, the last third of the run is less than 5 % above the first
    third, comparing for RSS the mean of the samples taken once a start's
    warm-up (ASan's quarantine filling) is over, and for fds the fewest
    (an RPC connection may be open at a sample), TAP queue fds left out
    since churned ports come and go;
  - no sanitizer report is in the daemon's log (LeakSanitizer reports at
    the clean stop that ends the run).
The figures are printed at the end (pytest -s shows them).
"""

import multiprocessing
import os
import random
import threading
import time
from pathlib import Path

import frames as F
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from system_conftest import (BUILD, RpcError, TOP, add_vm, sh, unique,
                             wait_for)

MINUTES = float(os.environ.get("SOAK_MINUTES", "3"))
LIFETIME = 60.0          # seconds between two kill -9
WARMUP = 25.0            # seconds after a start before RSS is sampled:
                         # ASan's quarantine and caches fill up first
N_VMS = 4
CHURN_VLAN = 999         # churned ports live here, away from the VMs
MAX_CHURN_PORTS = 4
DNSBLOCK = BUILD / "extensions" / "samples" / "dnsblock.so"
CORPUS = TOP / "tests" / "fuzz" / "corpus"


def vm_mac(i):
    return "02:00:00:5a:00:%02x" % (i + 1)


def vm_ip(i):
    return "10.77.0.%d" % (i + 1)


def corpus_frames():
    """The fuzz corpus' frames that fit a TAP's MTU (the guard corpus has
    a configuration byte in front)."""
    out = []
    for sub, skip in (("flow", 0), ("guard", 1)):
        d = CORPUS / sub
        for path in sorted(d.iterdir()) if d.is_dir() else ():
            frame = path.read_bytes()[skip:]
            if 14 <= len(frame) <= 1514:
                out.append(frame)
    return sorted(set(out))


def frames_for(i, malformed):
    """VM i's frames: valid and malformed in turn, each to one peer."""
    src = F.mac_bytes(vm_mac(i))
    peers = [j for j in range(N_VMS) if j != i]
    out = []
    for k, bad in enumerate(malformed):
        peer = peers[k % len(peers)]
        out.append(bytes(Ether(src=vm_mac(i), dst=vm_mac(peer)) /
                         IP(src=vm_ip(i), dst=vm_ip(peer)) /
                         UDP(sport=4000 + k % 1000, dport=9) /
                         Raw(b"soak" * 8)))
        out.append(F.mac_bytes(vm_mac(peer)) + src + bad[12:])
    return out


def sender(ns, ifname, frames, run, pause_gen, ack_gen, stop, sent, errors):
    """A VM's traffic, as fast as a process can send it.  Pauses while
    'run' is clear, acknowledging the pause generation once it sends no
    more."""
    port = F.RawPort(ns, ifname)
    n = bad = 0
    i = 0
    while not stop.is_set():
        if not run.is_set():
            ack_gen.value = pause_gen.value
            run.wait(0.05)
            continue
        for _ in range(64):
            try:
                port.sock.send(frames[i])
                n += 1
            except OSError:
                bad += 1
            i = (i + 1) % len(frames)
        sent.value = n
        errors.value = bad
    sent.value = n
    errors.value = bad
    port.close()


class Traffic:
    """The four senders and their pause handshake."""

    def __init__(self, vms, malformed):
        ctx = multiprocessing.get_context("fork")
        self.run = ctx.Event()
        self.stop = ctx.Event()
        self.pause_gen = ctx.Value("q", 0)
        self.procs = []
        self.acks = []
        self.sent = []
        self.errors = []
        for i, (ns, ifname) in enumerate(vms):
            ack = ctx.Value("q", -1)
            sent = ctx.Value("q", 0)
            errors = ctx.Value("q", 0)
            p = ctx.Process(target=sender, daemon=True, args=(
                ns, ifname, frames_for(i, malformed), self.run,
                self.pause_gen, ack, self.stop, sent, errors))
            p.start()
            self.procs.append(p)
            self.acks.append(ack)
            self.sent.append(sent)
            self.errors.append(errors)

    def resume(self):
        self.run.set()

    def pause(self):
        """Returns once no sender will send another frame."""
        with self.pause_gen.get_lock():
            self.pause_gen.value += 1
            gen = self.pause_gen.value
        self.run.clear()
        wait_for(lambda: all(a.value == gen for a in self.acks), timeout=30)

    def close(self):
        self.stop.set()
        self.run.set()
        for p in self.procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()

    def totals(self):
        return sum(s.value for s in self.sent), sum(e.value
                                                    for e in self.errors)


class Churn(threading.Thread):
    """Configuration churn over JSON-RPC: ports added and removed, ACLs
    replaced, an extension enabled and disabled.  A call the kill cut
    short, or refused because of it (an answer lost, a change the file
    kept or not), is no failure; any other refusal is."""

    def __init__(self, daemon, topo, vm_ports):
        super().__init__(daemon=True)
        self.daemon_ = daemon
        self.topo = topo
        self.vm_ports = vm_ports
        self.stop = threading.Event()
        self.epoch = 0            # bumped by the main thread at each kill
        self.ports = []
        self.failures = []
        self.counts = {}
        self.rng = random.Random(11)

    def call(self, method, **params):
        epoch = self.epoch
        try:
            result = self.daemon_.rpc(method, **params)
            self.counts[method] = self.counts.get(method, 0) + 1
            return result
        except (OSError, ValueError):
            return None          # the daemon is down or died mid-answer
        except RpcError as e:
            if epoch == self.epoch and self.daemon_.running():
                self.failures.append(f"{method} {params}: {e}")
            return None

    def resync(self):
        listed = self.call("port.list", switch="sw0")
        if listed is not None:
            self.ports = [p["name"] for p in listed["ports"]
                          if p["name"].startswith("vsk")]

    def add_port(self):
        name = unique("vsk")
        self.topo.links.append(name)
        if self.call("port.add", switch="sw0", name=name, type="tap",
                     ifname=name, vlan_mode="access",
                     vlan=CHURN_VLAN) is not None:
            self.ports.append(name)

    def del_port(self):
        name = self.ports.pop(self.rng.randrange(len(self.ports)))
        self.call("port.del", name=name)

    def replace_acls(self):
        port = self.rng.choice(self.vm_ports)
        listed = self.call("acl.list", port=port)
        for rule in (listed or {}).get("rules", []):
            self.call("acl.del", port=port, id=rule["id"], if_exists=True)
        for _ in range(self.rng.randrange(3)):
            peer = self.rng.randrange(N_VMS)
            self.call("acl.add", port=port, action="deny", direction="out",
                      remote_ip=vm_ip(peer))
        self.call("acl.add", port=port, action="allow", direction="out",
                  remote_ip="10.77.0.0/24")

    def toggle_extension(self):
        method = self.rng.choice(["ext.enable", "ext.disable"])
        epoch = self.epoch
        try:
            self.daemon_.rpc(method, switch="sw0", name="dnsblock")
            self.counts[method] = self.counts.get(method, 0) + 1
        except (OSError, ValueError):
            pass
        except RpcError as e:
            # Enabling what is enabled (or the reverse) is refused: fine.
            if "already" not in e.message and "not enabled" not in \
                    e.message and epoch == self.epoch:
                self.failures.append(f"{method}: {e}")

    def run(self):
        while not self.stop.wait(0.2):
            if not self.daemon_.running():
                continue
            action = self.rng.randrange(4)
            if action == 0 and len(self.ports) < MAX_CHURN_PORTS:
                self.add_port()
            elif action == 1 and self.ports:
                self.del_port()
            elif action == 2:
                self.replace_acls()
            else:
                self.toggle_extension()


class Sampler(threading.Thread):
    """RSS and open fds of the daemon, once a second, from /proc.  The
    fds of TAP queues are left out (ports come and go with the churn), and
    RSS is sampled once a start's warm-up is over."""

    def __init__(self, daemon):
        super().__init__(daemon=True)
        self.daemon_ = daemon
        self.stop = threading.Event()
        self.samples = []          # (seconds since start, rss kB, fds)
        self.skip_until = 0.0      # no fd samples while a daemon starts
        self.rss_from = 0.0        # no RSS samples before then
        self.t0 = time.monotonic()

    def run(self):
        while not self.stop.wait(1.0):
            proc = self.daemon_.proc
            if time.monotonic() < self.skip_until or not self.daemon_.running():
                continue
            try:
                status = Path(f"/proc/{proc.pid}/status").read_text()
                rss = int(next(line.split()[1] for line in status.splitlines()
                               if line.startswith("VmRSS:")))
                fds = 0
                for fd in os.listdir(f"/proc/{proc.pid}/fd"):
                    try:
                        target = os.readlink(f"/proc/{proc.pid}/fd/{fd}")
                    except OSError:
                        continue
                    fds += target != "/dev/net/tun"
            except (OSError, StopIteration):
                continue
            if time.monotonic() < self.rss_from:
                rss = None
            self.samples.append((time.monotonic() - self.t0, rss, fds))


def counters(daemon, ports):
    out = {}
    for port in ports:
        s = daemon.stats(port)
        out[port] = {"rx": s["rx-packets"], "tx": s["tx-packets"],
                     "drops": dict(s["drops"])}
    return out


def meters(daemon, ports):
    """Each port's metered totals: {port: (in packets, out packets)}."""
    out = {}
    for port in ports:
        got = daemon.rpc("metering.show", port=port)["meters"]
        totals = {m["direction"]: m["packets"] for m in got
                  if m["rule"] is None}
        out[port] = (totals["in"], totals["out"])
    return out


def drained(daemon, ports):
    """Counters once they stop moving (the TAP queues are empty)."""
    last = None
    stable = 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = counters(daemon, ports)
        stable = stable + 1 if now == last else 0
        if stable >= 3:
            return now
        last = now
        time.sleep(0.3)
    raise AssertionError("counters still moving 30 s after traffic stopped")


def learn(vms):
    """One broadcast frame from each VM, so that every VM's MAC is known
    and the traffic that follows is unicast."""
    for i, (ns, ifname) in enumerate(vms):
        port = F.RawPort(ns, ifname)
        port.send(F.fence(vm_mac(i), b"learn"))
        port.close()


def third_growth(samples, index, how):
    """Growth of the last third of the run over the first, in %, comparing
    'how' (mean or min) of each third's samples."""
    end = samples[-1][0]
    first = [s[index] for s in samples
             if s[0] <= end / 3 and s[index] is not None]
    last = [s[index] for s in samples
            if s[0] >= end * 2 / 3 and s[index] is not None]
    assert first and last, samples
    a, b = how(first), how(last)
    return 100.0 * (b - a) / a, a, b


def mean(values):
    return sum(values) / len(values)


def test_soak(daemon_factory, topo, monkeypatch):
    # LeakSanitizer on, and a small quarantine so the ASan daemon's RSS
    # settles within seconds instead of growing for minutes.
    monkeypatch.setenv("ASAN_OPTIONS", os.environ.get("ASAN_OPTIONS", "") +
                       ":detect_leaks=1:quarantine_size_mb=4")
    daemon = daemon_factory()
    daemon.rpc("switch.add", name="sw0")
    vms = []
    ports = []
    for i in range(N_VMS):
        port = unique("vsp")
        # No address in the VM: its kernel then answers nothing (no ARP,
        # no ICMP), so every frame on the switch is one the test sent.
        vms.append(add_vm(daemon, topo, "sw0", port, mac=vm_mac(i)))
        sh(["ip", "-n", vms[-1][0], "link", "set", vms[-1][1], "address",
            vm_mac(i)])
        daemon.rpc("metering.enable", port=port)
        ports.append(port)
    if DNSBLOCK.exists():
        daemon.rpc("ext.load", path=str(DNSBLOCK))

    malformed = corpus_frames()
    assert malformed, "no fuzz corpus under tests/fuzz/corpus"
    traffic = Traffic(vms, malformed)
    churn = Churn(daemon, topo, ports)
    sampler = Sampler(daemon)
    lifetimes = []
    drops_by_reason = {}
    deadline = time.monotonic() + MINUTES * 60
    try:
        churn.start()
        sampler.start()
        while True:
            # A fresh lifetime: MACs learned, counters and meters read.
            sampler.skip_until = time.monotonic() + 3
            sampler.rss_from = time.monotonic() + WARMUP
            learn(vms)
            start = drained(daemon, ports)
            start_meters = meters(daemon, ports)
            started = time.monotonic()
            last = time.monotonic() + LIFETIME >= deadline
            traffic.resume()
            time.sleep(max(1.0, min(LIFETIME, deadline - started) - 5))
            traffic.pause()
            end = drained(daemon, ports)
            # Meters fold the datapath's counters in once a second.
            time.sleep(1.2)
            end_meters = meters(daemon, ports)

            rx = sum(end[p]["rx"] - start[p]["rx"] for p in ports)
            tx = sum(end[p]["tx"] - start[p]["tx"] for p in ports)
            dropped = 0
            for p in ports:
                for reason, n in end[p]["drops"].items():
                    d = n - start[p]["drops"].get(reason, 0)
                    dropped += d
                    if d:
                        drops_by_reason[reason] = \
                            drops_by_reason.get(reason, 0) + d
            lifetimes.append({"seconds": round(time.monotonic() - started),
                              "received": rx, "delivered": tx,
                              "dropped": dropped})
            assert rx > 0, "no traffic went through"
            assert rx == tx + dropped, (
                f"lifetime {len(lifetimes)}: {rx} frames received, "
                f"{tx} delivered + {dropped} dropped by reason; "
                f"start {start}, end {end}")
            for p in ports:
                m_in = end_meters[p][0] - start_meters[p][0]
                m_out = end_meters[p][1] - start_meters[p][1]
                assert (m_in, m_out) == (
                    end[p]["tx"] - start[p]["tx"],
                    end[p]["rx"] - start[p]["rx"]), (
                    f"{p}: meters moved in {m_in} out {m_out}, counters "
                    f"tx {end[p]['tx'] - start[p]['tx']} "
                    f"rx {end[p]['rx'] - start[p]['rx']}")
            if last:
                break
            # Traffic and churn again, then the kill in their midst.
            traffic.resume()
            time.sleep(1.0 + random.random())
            churn.epoch += 1
            daemon.kill9()
            churn.epoch += 1
            traffic.pause()
            daemon.start()
            churn.resync()
    finally:
        churn.stop.set()
        sampler.stop.set()
        traffic.close()
        churn.join(timeout=30)
        sampler.join(timeout=5)

    sent, send_errors = traffic.totals()
    # RSS: the mean once warm; fds: the fewest (an RPC connection of the
    # churn may be open at a sample).
    rss_growth, rss_first, rss_last = third_growth(sampler.samples, 1, mean)
    fd_growth, fd_first, fd_last = third_growth(sampler.samples, 2, min)
    print(f"\nsoak: {MINUTES:g} min, {len(lifetimes)} daemon lifetimes "
          f"({len(lifetimes) - 1} kill -9)")
    print(f"soak: frames sent by the VMs {sent} (send errors "
          f"{send_errors}); through the switch per lifetime: "
          f"{lifetimes}")
    print(f"soak: drops by reason: {drops_by_reason}")
    print(f"soak: RSS (mean once warm) first third {rss_first:.0f} kB, last "
          f"third {rss_last:.0f} kB ({rss_growth:+.1f} %); fds but TAP "
          f"queues (fewest) {fd_first} -> {fd_last} ({fd_growth:+.1f} %); "
          f"{len(sampler.samples)} samples")
    print(f"soak: churn calls {churn.counts}")
    print("soak: (s, RSS kB, fds) every 5 s: "
          f"{[s for s in sampler.samples[::5]]}")
    assert not churn.failures, churn.failures
    assert rss_growth < 5.0, f"RSS grew {rss_growth:.1f} %"
    assert fd_growth < 5.0, f"fds grew {fd_growth:.1f} %"
    # The daemon_factory fixture stops the daemon (LeakSanitizer reports
    # then) and fails the test on any sanitizer report in its log.
