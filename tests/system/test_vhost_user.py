"""vhost-user ports (issue 16): a real virtio driver (DPDK testpmd's
net_virtio_user, no VM, no hugepages) on the switch's backend, restarts of
either side, and a hostile frontend that must stop only its own port.

testpmd polls one core (-l 0,1: lcore 1 forwards, lcore 0 only prints);
the machine has two.  Every test that takes the 'daemon' fixture runs
twice: with workers that sleep in epoll, and with one --busy-poll worker,
which polls the vhost-user rings in place (no epoll, no kicks) and spins
a core; those runs are marked serial, so they never share the machine
with the parallel tests.
"""

import os
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import time

import pytest

from conftest import RpcError, add_vm, sh, unique, wait_for
from vhost_frontend import (BUF_BASE, DESC_F_NEXT, F_EVENT_IDX, F_LOG_ALL,
                            F_MRG_RXBUF, RING_AREA,
                            F_PROTOCOL_FEATURES, F_VERSION_1, MEM_SIZE,
                            RING_SIZE, USER_BASE, Frontend, vnet_header)

TESTPMD = shutil.which("dpdk-testpmd")
USED_F_NO_NOTIFY = 1


@pytest.fixture(params=["epoll",
                        pytest.param("busy-poll", marks=pytest.mark.serial)])
def daemon(request, daemon_factory):
    """A daemon whose workers sleep in epoll, or one busy-polling worker
    that polls vhost-user rings in place ('busy_poll' says which)."""
    d = daemon_factory(start=False)
    d.busy_poll = request.param == "busy-poll"
    if d.busy_poll:
        d.start("--busy-poll", workers=1)
    else:
        d.start()
    return d


class Guest:
    """A testpmd guest on a vhost-user socket."""

    def __init__(self, tmp_path, sock, mode, server=False, extra=(),
                 queues=1):
        self.prefix = unique("vhg")
        self.out = tmp_path / f"{self.prefix}.log"
        vdev = f"net_virtio_user0,path={sock},queues={queues}"
        if server:
            vdev += ",server=1"
        cmd = [TESTPMD, "-l", "0,1", "--no-pci", "--no-huge", "-m", "512",
               "--file-prefix", self.prefix, "--vdev", vdev, "--",
               "--total-num-mbufs=16384", f"--forward-mode={mode}",
               f"--rxq={queues}", f"--txq={queues}",
               "--auto-start", "--stats-period=1", *extra]
        self.proc = subprocess.Popen(cmd, stdout=open(self.out, "w"),
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def text(self):
        return self.out.read_text(errors="replace")

    def counter(self, name):
        """The last value testpmd printed for 'name' (RX-packets...)."""
        values = re.findall(rf"{name}:\s+(\d+)", self.text())
        return int(values[-1]) if values else 0

    def stop(self):
        """SIGINT (testpmd prints its final statistics) and wait."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(f"/var/run/dpdk/{self.prefix}", ignore_errors=True)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(f"/var/run/dpdk/{self.prefix}", ignore_errors=True)


@pytest.fixture
def guests(tmp_path):
    """Starts testpmd guests; stops every one at teardown."""
    started = []

    def start(sock, mode, **kw):
        if not TESTPMD:
            pytest.skip("dpdk-testpmd not installed (apt-get install "
                        "dpdk-dev; scripts/install-deps.sh)")
        g = Guest(tmp_path, sock, mode, **kw)
        started.append(g)
        return g

    yield start
    for g in started:
        g.kill()


def ping(ns, addr, count=3, size=56):
    """True if 'addr' answers from namespace 'ns' (unfragmented)."""
    res = sh(["ping", "-c", str(count), "-i", "0.2", "-W", "1", "-M", "do",
              "-s", str(size), addr], ns=ns, check=False)
    return res.returncode == 0


def vhost_state(daemon, port):
    return daemon.rpc("port.get", name=port)["vhost-user"]


def wait_running(daemon, port, guest=None, timeout=20):
    """Waits until the frontend runs both rings of the port (and, for a
    testpmd guest, has started forwarding)."""
    def running():
        if guest and guest.proc.poll() is not None:
            pytest.skip(f"dpdk-testpmd cannot start here:\n{guest.text()}")
        if guest and "Port statistics" not in guest.text():
            return False
        state = vhost_state(daemon, port)
        return state["connected"] and state["rings"] >= 2
    wait_for(running, timeout=timeout)


def add_vhost(daemon, switch, port, sock, **kw):
    params = {"switch": switch, "name": port, "type": "vhost-user",
              "socket": str(sock), **{k.replace("_", "-"): v
                                      for k, v in kw.items()}}
    daemon.rpc_raw("port.add", params)


# ---- Settings ----

def test_socket_is_0660_and_given_to_the_group(daemon, tmp_path):
    daemon.rpc("switch.add", name="sw0")
    sock = tmp_path / "vm.sock"
    add_vhost(daemon, "sw0", "vm", sock, socket_group="daemon")
    st = os.stat(sock)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660
    import grp
    assert st.st_gid == grp.getgrnam("daemon").gr_gid
    shown = daemon.rpc("port.get", name="vm")
    assert shown["socket"] == str(sock) and shown["vhost-mode"] == "server"
    assert shown["link"] == "down"
    assert shown["vhost-user"] == {"connected": False, "rings": 0,
                                   "rx-invalid": 0}
    daemon.rpc("port.del", name="vm")
    assert not sock.exists()


@pytest.mark.parametrize("params, words", [
    ({}, "socket"),
    ({"socket": "relative.sock"}, "absolute"),
    ({"socket": "/tmp/" + "x" * 120}, "107"),
    ({"socket": 7}, "socket"),
    ({"socket-group": "no-such-group-here"}, "group"),
    ({"vhost-mode": "client", "socket-group": "daemon"}, "socket-group"),
    ({"vhost-mode": "sideways"}, "vhost-mode"),
])
def test_bad_settings_are_refused(daemon, tmp_path, params, words):
    daemon.rpc("switch.add", name="sw0")
    full = {"switch": "sw0", "name": "vm", "type": "vhost-user",
            "socket": str(tmp_path / "vm.sock"), **params}
    if not params or "socket" not in params and not full["socket"]:
        pass
    if params == {}:
        del full["socket"]
    with pytest.raises(RpcError) as info:
        daemon.rpc_raw("port.add", full)
    assert words in info.value.message
    assert daemon.rpc("port.list")["ports"] == []
    assert not (tmp_path / "vm.sock").exists()


def test_export_and_import_carry_the_socket(daemon, tmp_path):
    """Moving a port (port.export / port.import) keeps its vhost-user
    settings: the imported port serves the same socket again."""
    daemon.rpc("switch.add", name="sw0")
    daemon.rpc("switch.add", name="sw1")
    sock = tmp_path / "m.sock"
    add_vhost(daemon, "sw0", "vm", sock, socket_group="daemon",
              vlan_mode="access", vlan=40)
    doc = daemon.rpc("port.export", name="vm")
    assert doc["settings"]["socket"] == str(sock)
    assert doc["settings"]["vhost-mode"] == "server"
    assert doc["settings"]["socket-group"] == "daemon"
    daemon.rpc("port.del", name="vm")
    assert not sock.exists()
    daemon.rpc("port.import", switch="sw1", document=doc)
    shown = daemon.rpc("port.get", name="vm")
    assert (shown["switch"], shown["socket"], shown["vlan"]) == (
        "sw1", str(sock), 40)
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o660


def test_a_live_socket_is_not_taken_over(daemon, tmp_path):
    daemon.rpc("switch.add", name="sw0")
    sock = tmp_path / "vm.sock"
    add_vhost(daemon, "sw0", "vm1", sock)
    with pytest.raises(RpcError) as info:
        add_vhost(daemon, "sw0", "vm2", sock)
    assert "in use" in info.value.message
    assert os.path.exists(sock)


# ---- A real virtio driver ----

def test_icmpecho_guest_answers_a_tap_vm_and_comes_back(daemon, topo,
                                                        tmp_path, guests):
    daemon.rpc("switch.add", name="sw0")
    sock = tmp_path / "g.sock"
    add_vhost(daemon, "sw0", "guest", sock)
    ns, vm_if = add_vm(daemon, topo, "sw0", "vm", ip="10.71.0.1")
    guest = guests(sock, "icmpecho", extra=("--max-pkt-len=9100", "--enable-scatter",
                                    "--tx-offloads=0x8000"))
    wait_running(daemon, "guest", guest)
    assert daemon.rpc("port.get", name="guest")["link"] == "up"
    assert wait_for(lambda: ping(ns, "10.71.0.2", count=1), timeout=5)
    assert ping(ns, "10.71.0.2", count=5)
    stats = daemon.stats("guest")
    assert stats["rx-packets"] >= 5 and stats["tx-packets"] >= 5

    # A 9000-byte frame fills several of the guest's 2 KB receive buffers
    # (mergeable buffers), and its echo comes back as a descriptor chain.
    sh(["ip", "-n", ns, "link", "set", vm_if, "mtu", "9000"])
    assert ping(ns, "10.71.0.2", count=2, size=8900)

    # The guest restarts: the port comes back on its own.
    guest.stop()
    wait_for(lambda: not vhost_state(daemon, "guest")["connected"])
    assert daemon.rpc("port.get", name="guest")["link"] == "down"
    assert not ping(ns, "10.71.0.2", count=1)
    guest = guests(sock, "icmpecho")
    wait_running(daemon, "guest", guest)
    assert wait_for(lambda: ping(ns, "10.71.0.2", count=2), timeout=10)


def test_multiqueue_guest(daemon, topo, tmp_path, guests):
    """A guest with two queue pairs (MQ): the daemon's two workers each
    poll one, and ping gets through whichever queue a frame takes."""
    daemon.rpc("switch.add", name="sw0")
    sock = tmp_path / "mq.sock"
    add_vhost(daemon, "sw0", "guest", sock)
    ns, _ = add_vm(daemon, topo, "sw0", "vm", ip="10.74.0.1")
    guest = guests(sock, "icmpecho", queues=2)
    wait_running(daemon, "guest", guest)
    wait_for(lambda: vhost_state(daemon, "guest")["rings"] == 4)
    assert wait_for(lambda: ping(ns, "10.74.0.2", count=1), timeout=5)
    for i in range(3, 8):
        assert ping(ns, f"10.74.0.{i}", count=2)


def test_guest_to_guest_counts_every_frame(daemon, topo, tmp_path, guests):
    """txonly into rxonly across an access VLAN and an allowing ACL: the
    receiver counts exactly the frames the switch read from the sender,
    less those it counted as dropped for want of receive buffers."""
    daemon.rpc("switch.add", name="sw0")
    a, b = tmp_path / "a.sock", tmp_path / "b.sock"
    add_vhost(daemon, "sw0", "ga", a, vlan_mode="access", vlan=30)
    add_vhost(daemon, "sw0", "gb", b, vlan_mode="access", vlan=30)
    daemon.ctl("acl", "add", "gb", "action=allow", "direction=in",
               "remote-ip=ANY")
    rx = guests(b, "rxonly")
    wait_running(daemon, "gb", rx)
    # txonly frames go to the broadcast-free MAC testpmd uses as peer;
    # the switch floods unknown unicast within VLAN 30: to gb only.
    tx = guests(a, "txonly", extra=("--txpkts=64",))
    wait_running(daemon, "ga", tx)
    wait_for(lambda: tx.counter("TX-packets") > 10000, timeout=20)
    tx.stop()
    sent = tx.counter("TX-packets")
    # Wait until the switch has handled all it read from ga.
    last = [-1]

    def settled():
        now = daemon.stats("ga")["rx-packets"]
        done = now == last[0]
        last[0] = now
        return done
    wait_for(settled, timeout=10, interval=0.5)
    rx.stop()
    received = rx.counter("RX-packets")
    ga, gb = daemon.stats("ga"), daemon.stats("gb")
    assert received > 1000
    # testpmd counts a frame as sent once it is on its ring; those the
    # switch had not read yet when testpmd hung up are lost with the ring
    # (at most a ring's worth).
    assert ga["rx-packets"] <= sent <= ga["rx-packets"] + 1024
    # Every frame read from ga is delivered to gb or counted as dropped
    # (gb out of receive buffers): nothing is lost silently.
    assert gb["tx-packets"] == received
    assert ga["rx-packets"] == received + gb["drops"]["tx-error"] + \
        ga["drops-total"]


def test_client_mode_survives_kill9_of_the_daemon(daemon_factory, topo,
                                                  tmp_path, guests):
    daemon = daemon_factory("st")
    daemon.rpc("switch.add", name="sw0")
    sock = tmp_path / "c.sock"
    guest = guests(sock, "icmpecho", server=True)
    wait_for(lambda: sock.exists() or guest.proc.poll() is not None)
    add_vhost(daemon, "sw0", "guest", sock, vhost_mode="client")
    ns, _ = add_vm(daemon, topo, "sw0", "vm", ip="10.72.0.1")
    wait_running(daemon, "guest", guest)
    assert ping(ns, "10.72.0.2")

    daemon.kill9()
    daemon.start()
    wait_running(daemon, "guest", guest)
    assert wait_for(lambda: ping(ns, "10.72.0.2", count=2), timeout=10)
    assert guest.proc.poll() is None


def test_server_mode_survives_kill9_with_a_guest_attached(daemon_factory,
                                                          topo, tmp_path):
    """Server mode: the restarted daemon listens on its socket again (the
    dead one's file is not a live socket), and a reconnecting frontend
    resumes its rings where its memory shows they were."""
    daemon = daemon_factory("ss")
    daemon.rpc("switch.add", name="sw0")
    add_vm(daemon, topo, "sw0", "vm", ip="10.75.0.1")
    sock = tmp_path / "s.sock"
    add_vhost(daemon, "sw0", "guest", sock)
    fe = Frontend(str(sock))
    try:
        fe.setup()
        wait_running(daemon, "guest")
        fe.send_frame(broadcast_frame(), index=0)
        wait_for(lambda: fe.used_idx(1) == 1)

        daemon.kill9()
        daemon.start()
        wait_for(lambda: daemon.rpc("port.get", name="guest"))

        def reconnected():
            try:
                fe.reconnect()
                return True
            except OSError:
                return False
        wait_for(reconnected)
        fe.setup(bases=(0, fe.used_idx(1)))
        wait_running(daemon, "guest")
        fe.send_frame(broadcast_frame(), index=1)
        wait_for(lambda: fe.used_idx(1) == 2)
        wait_for(lambda: daemon.stats("guest")["rx-packets"] == 1)
        assert "error" not in vhost_state(daemon, "guest")
    finally:
        fe.close()


# ---- A hostile frontend ----

def broadcast_frame():
    return (b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x42" + b"\x08\x06" +
            bytes(46))


@pytest.fixture
def hostile_setup(daemon, topo, tmp_path):
    """A switch with two TAP VMs that ping each other and a vhost-user
    port for the hostile frontend."""
    daemon.rpc("switch.add", name="sw0")
    ns1, _ = add_vm(daemon, topo, "sw0", "vm1", ip="10.73.0.1")
    ns2, _ = add_vm(daemon, topo, "sw0", "vm2", ip="10.73.0.2")
    sock = tmp_path / "h.sock"
    add_vhost(daemon, "sw0", "evil", sock)
    return ns1, str(sock)


def stopped_with(daemon, words):
    error = wait_for(lambda: vhost_state(daemon, "evil").get("error"))
    assert words in error, error
    shown = daemon.rpc("port.get", name="evil")
    assert shown["error"] == error and shown["link"] == "down"
    return error


def others_forward(ns1):
    assert ping(ns1, "10.73.0.2")


def test_frontend_frame_is_forwarded(daemon, hostile_setup):
    """The frontend is good enough to send a frame: the hostile tests
    below fail for the reason they name, not for a broken set-up."""
    ns1, sock = hostile_setup
    fe = Frontend(sock)
    try:
        fe.setup()
        wait_running(daemon, "evil")
        fe.give_rx_buffers(8)
        fe.send_frame(broadcast_frame())
        wait_for(lambda: daemon.stats("evil")["rx-packets"] == 1)
        wait_for(lambda: fe.used_idx(1) == 1)
        assert "error" not in vhost_state(daemon, "evil")
    finally:
        fe.close()


def test_busy_poll_takes_frames_without_kicks(daemon, hostile_setup):
    """A worker that sleeps in epoll takes a guest's frame only when the
    guest kicks; a busy-polling worker polls the ring in place and takes
    it without one.  Deleting the port while it is polled in place leaves
    the other ports forwarding."""
    ns1, sock = hostile_setup
    fe = Frontend(sock)
    try:
        fe.setup()
        wait_running(daemon, "evil")
        fe.send_frame(broadcast_frame(), index=0)
        wait_for(lambda: fe.used_idx(1) == 1)
        time.sleep(0.3)  # an epoll worker settles and sleeps
        fe.send_frame(broadcast_frame(), index=1, kick=False)
        time.sleep(0.3)
        if daemon.busy_poll:
            assert fe.used_idx(1) == 2
        else:
            assert fe.used_idx(1) == 1
            fe.publish(1, [], avail_idx=2)  # the kick
            wait_for(lambda: fe.used_idx(1) == 2)
        assert daemon.stats("evil")["rx-packets"] == 2
        daemon.rpc("port.del", name="evil")
        others_forward(ns1)
    finally:
        fe.close()
    others_forward(ns1)


F_CSUM = 1 << 0
F_HOST_TSO4 = 1 << 11


def tcp_segment(payload_len):
    """An Ethernet/IPv4/TCP frame 10.73.0.50 -> 10.73.0.1 with a
    'payload_len' payload, its TCP checksum left to the receiver."""
    ip_len = 20 + 20 + payload_len
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, ip_len, 1, 0x4000,
                               64, 6, 0, bytes([10, 73, 0, 50]),
                               bytes([10, 73, 0, 1])))
    total = sum(struct.unpack("!10H", bytes(ip)))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    ip[10:12] = struct.pack("!H", ~total & 0xffff)
    tcp = struct.pack("!HHIIBBHHH", 40000, 9, 1, 0, 5 << 4, 0x18, 65535, 0,
                      0)
    return (b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x50" + b"\x08\x00" +
            bytes(ip) + tcp + bytes(payload_len))


def test_guest_tso_segment_passes_whole_and_bad_headers_do_not(
        daemon, hostile_setup):
    """A guest with HOST_TSO4 hands over a 2-segment TCP frame whole: it
    counts as the 2 wire frames it stands for and reaches the TAP VMs.
    A header that points outside its frame, or asks for an offload the
    guest did not negotiate, is not forwarded."""
    ns1, sock = hostile_setup
    fe = Frontend(sock)
    try:
        fe.setup(features=F_VERSION_1 | F_MRG_RXBUF | F_PROTOCOL_FEATURES |
                 F_CSUM | F_HOST_TSO4)
        wait_running(daemon, "evil")
        tx_before = daemon.stats("vm1")["tx-packets"]
        gso = vnet_header(flags=1, gso_type=1, hdr_len=54, gso_size=1448,
                          csum_start=34, csum_offset=16)
        fe.send_frame(tcp_segment(2 * 1448), index=0, vnet=gso)
        wait_for(lambda: daemon.stats("evil")["rx-packets"] == 2)
        wait_for(lambda: daemon.stats("vm1")["tx-packets"] - tx_before == 2)
        for index, vnet in enumerate((
                vnet_header(flags=1, csum_start=5000, csum_offset=16),
                vnet_header(flags=1, gso_type=4, hdr_len=54, gso_size=1448,
                            csum_start=54, csum_offset=6)), start=1):
            fe.send_frame(tcp_segment(2 * 1448), index=index, vnet=vnet)
            wait_for(lambda: fe.used_idx(1) == index + 1)
        time.sleep(0.3)
        assert daemon.stats("evil")["rx-packets"] == 2
        assert "error" not in vhost_state(daemon, "evil")
        assert vhost_state(daemon, "evil")["rx-invalid"] == 2
    finally:
        fe.close()


def test_dirty_log_marks_what_the_switch_writes(daemon, hostile_setup):
    """Live migration: with LOG_ALL and a log base, every guest page the
    switch writes (receive buffers, the used ring) is marked dirty, and
    nothing else."""
    ns1, sock = hostile_setup
    fe = Frontend(sock)
    try:
        fe.setup(features=F_VERSION_1 | F_MRG_RXBUF | F_PROTOCOL_FEATURES |
                 F_LOG_ALL, log_used=True)
        log = fe.log_base(MEM_SIZE // 4096 // 8)
        wait_running(daemon, "evil")
        fe.give_rx_buffers(1)
        sh(["ping", "-c", "1", "-W", "1", "10.73.0.99"], ns=ns1, check=False)
        wait_for(lambda: fe.used_idx(0) >= 1)

        def dirty(gpa):
            page = gpa // 4096
            return bool(log[page // 8] & (1 << (page % 8)))
        used_ring = RING_SIZE * 16 + 4096  # ring 0's used ring
        assert dirty(BUF_BASE), "receive buffer not logged"
        assert dirty(used_ring), "used ring not logged"
        pages = [p for p in range(MEM_SIZE // 4096) if dirty(p * 4096)]
        assert pages == sorted({BUF_BASE // 4096, used_ring // 4096}), pages
        log.close()
    finally:
        fe.close()


def test_event_idx_suppresses_notifications(daemon, hostile_setup):
    """With EVENT_IDX the switch tells the guest where to kick next
    (avail_event) and signals it only when its used_event is passed."""
    ns1, sock = hostile_setup
    fe = Frontend(sock)
    try:
        fe.setup(features=F_VERSION_1 | F_MRG_RXBUF | F_PROTOCOL_FEATURES |
                 F_EVENT_IDX)
        wait_running(daemon, "evil")
        fe.send_frame(broadcast_frame(), index=0)
        wait_for(lambda: fe.used_idx(1) == 1)
        if daemon.busy_poll:
            # Polled in place: the ring never sleeps, so the switch never
            # asks for a kick (avail_event stays where it was).
            fe.send_frame(broadcast_frame(), index=1)
            wait_for(lambda: fe.used_idx(1) == 2)
            time.sleep(0.3)
            assert fe.avail_event(1) == 0
            assert daemon.stats("evil")["rx-packets"] == 2
            return
        # Set when the queue goes to sleep, a few empty polls later.
        wait_for(lambda: fe.avail_event(1) == 1, timeout=2)
        # used_event 0 was passed (used index 0 -> 1): one signal.
        wait_for(lambda: fe.calls_pending(1) == 1, timeout=2)
        fe.set_used_event(1, 10)
        fe.send_frame(broadcast_frame(), index=1)
        wait_for(lambda: fe.used_idx(1) == 2)
        wait_for(lambda: fe.avail_event(1) == 2, timeout=2)
        time.sleep(0.2)
        assert fe.calls_pending(1) == 0

        # Receive: no interrupt before used_event is passed.
        fe.set_used_event(0, 1000)
        fe.give_rx_buffers(64)
        sh(["ping", "-c", "1", "-W", "1", "10.73.0.99"], ns=ns1, check=False)
        wait_for(lambda: fe.used_idx(0) >= 1)
        time.sleep(0.2)
        assert fe.calls_pending(0) == 0
        fe.set_used_event(0, fe.used_idx(0))
        sh(["ping", "-c", "1", "-W", "1", "10.73.0.98"], ns=ns1, check=False)
        got = fe.used_idx(0)
        wait_for(lambda: fe.used_idx(0) > got)
        wait_for(lambda: fe.calls_pending(0) > 0, timeout=2)
    finally:
        fe.close()


@pytest.mark.parametrize("case, words", [
    ("address", "outside guest memory"),
    ("length", "outside guest memory"),
    ("index", "out of range"),
    ("loop", "loops"),
    ("avail", "ahead"),
])
def test_malformed_ring_stops_only_that_port(daemon, hostile_setup, case,
                                             words):
    ns1, sock = hostile_setup
    fe = Frontend(sock)
    try:
        fe.setup()
        wait_running(daemon, "evil")
        buf = BUF_BASE
        if case == "address":
            fe.write_desc(1, 0, MEM_SIZE + 4096, 64, 0, 0)
            fe.publish(1, [0])
        elif case == "length":
            fe.write_desc(1, 0, buf, MEM_SIZE, 0, 0)
            fe.publish(1, [0])
        elif case == "index":
            fe.publish(1, [RING_SIZE + 3])
        elif case == "loop":
            fe.write_desc(1, 0, buf, 12, DESC_F_NEXT, 1)
            fe.write_desc(1, 1, buf + 64, 64, DESC_F_NEXT, 0)
            fe.publish(1, [0])
        elif case == "avail":
            fe.publish(1, [], avail_idx=RING_SIZE + 5)
        stopped_with(daemon, words)
        others_forward(ns1)
        # Stopped means stopped: a valid frame now goes nowhere.
        before = daemon.stats("evil")["rx-packets"]
        fe.write_desc(1, 5, buf, 12 + 60, 0, 0)
        fe.publish(1, [5])
        time.sleep(0.3)
        assert daemon.stats("evil")["rx-packets"] == before
    finally:
        fe.close()
    # A new connection starts afresh.
    fe = Frontend(sock)
    try:
        fe.setup()
        wait_running(daemon, "evil")
        assert "error" not in vhost_state(daemon, "evil")
    finally:
        fe.close()


def test_memory_taken_back_stops_only_that_port(daemon, hostile_setup):
    """A guest that shrinks the file behind its shared memory after the
    switch mapped it: the switch's next access faults (SIGBUS).  That
    stops the port, not the daemon."""
    ns1, sock = hostile_setup
    fe = Frontend(sock)
    try:
        fe.setup()
        wait_running(daemon, "evil")
        fe.write_desc(1, 0, BUF_BASE, 64, 0, 0)
        fe.publish(1, [], avail_idx=0)
        # The avail ring lives in the first 128 KB; the buffer is beyond.
        os.ftruncate(fe.memfd, BUF_BASE)
        fe.publish(1, [0])
        stopped_with(daemon, "SIGBUS")
        others_forward(ns1)
        assert daemon.rpc("system.status")
    finally:
        fe.close()


@pytest.mark.parametrize("case, words", [
    ("beyond-file", "does not fit"),
    ("fd-count", "regions"),
    ("ring-outside", "outside guest memory"),
])
def test_bad_memory_table_stops_only_that_port(daemon, hostile_setup, case,
                                               words):
    ns1, sock = hostile_setup
    fe = Frontend(sock)
    try:
        if case == "beyond-file":
            fe.setup(mem=False)
            fe.mem_table([(0, MEM_SIZE * 4, USER_BASE, 0)])
        elif case == "fd-count":
            fe.setup(mem=False)
            fe.mem_table([(0, MEM_SIZE, USER_BASE, 0)] * 2, [fe.memfd])
        else:
            # Memory too small for where the rings are.
            fe.setup(mem=False)
            fe.mem_table([(0, 4096, USER_BASE, 0)])
            fe.send(9, struct.pack("<IIQQQQ", 1, 0, USER_BASE + 65536,
                                   USER_BASE + 70000, USER_BASE + 69000, 0))
        stopped_with(daemon, words)
        others_forward(ns1)
    finally:
        fe.close()


def test_garbage_on_the_socket_is_survived(daemon, hostile_setup):
    ns1, sock = hostile_setup
    for junk in (b"\x00" * 3, struct.pack("<III", 5, 1, 1 << 30),
                 struct.pack("<III", 999, 1, 0), os.urandom(4096)):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(sock)
            s.sendall(junk)
        time.sleep(0.1)
    others_forward(ns1)
    assert daemon.rpc("system.status")
