"""vswitchd itself: options, detaching, pidfile, socket and log, the state
directory lock, status, restart with VMs attached, uplinks that vanish and
come back, and the configuration file."""

import contextlib
import ctypes
import json
import os
import re
import signal
import stat
import subprocess
import time

import pytest

from conftest import (VSWITCH_CTL, VSWITCHD, Daemon, add_vm, ping, sh,
                      wait_for)

SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer",
                     "UndefinedBehaviorSanitizer", "runtime error:")
PR_SET_CHILD_SUBREAPER = 36


def assert_no_sanitizer_report(text):
    for marker in SANITIZER_MARKERS:
        assert marker not in text, text


def vswitchd(*args, timeout=30):
    """Runs vswitchd to completion (for options that make it exit)."""
    res = subprocess.run([str(VSWITCHD), *[str(a) for a in args]],
                         capture_output=True, text=True, timeout=timeout)
    assert_no_sanitizer_report(res.stderr)
    return res


def ctl(sock, *args, check=True):
    return sh([str(VSWITCH_CTL), "--socket", str(sock),
               *[str(a) for a in args]], check=check)


def stop_quietly(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def log_levels(text):
    """The levels of the log lines of 'text'."""
    return {m.group(1) for m in re.finditer(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (err|warn|info|debug): ", text,
        re.M)}


# ---- Options ----

def test_help_and_version():
    for option in ("--help", "-h"):
        res = vswitchd(option)
        assert res.returncode == 0 and res.stderr == ""
        assert res.stdout.startswith("usage: vswitchd")
        for name in ("--state-dir", "--socket", "--pidfile", "--detach",
                     "--log-file", "--log-level", "--workers", "--busy-poll",
                     "--help", "--version"):
            assert name in res.stdout, name
    for option in ("--version", "-V"):
        res = vswitchd(option)
        assert res.returncode == 0 and res.stderr == ""
        assert re.fullmatch(r"vswitchd \d+\.\d+\.\d+\n", res.stdout)
    # The same version as the client's.
    ctl_version = sh([str(VSWITCH_CTL), "--version"]).stdout.split()[-1]
    assert vswitchd("--version").stdout.split()[1] == ctl_version


@pytest.mark.parametrize("args", [["--frobnicate"], ["-x"],
                                  ["--help=yes"], ["--workers"],
                                  ["--log-file"]])
def test_unknown_option_exits_2(tmp_path, args):
    state = tmp_path / "state"
    res = vswitchd("--state-dir", state, *args)
    assert res.returncode == 2, res
    assert res.stdout == ""
    # The message, naming the option, then the usage.
    first, rest = res.stderr.split("\n", 1)
    assert args[0].split("=")[0].lstrip("-") in first, res.stderr
    assert rest.startswith("usage: vswitchd")
    assert not state.exists()


@pytest.mark.parametrize("args, message", [
    (["--workers", "0"], "--workers: '0' is not a number from 1 to 64"),
    (["--workers", "65"], "--workers: '65' is not a number from 1 to 64"),
    (["--workers", "two"], "--workers: 'two' is not a number from 1 to 64"),
    (["--workers", ""], "--workers: '' is not a number from 1 to 64"),
    (["--log-level", "loud"],
     "--log-level: 'loud' is not err, warn, info or debug"),
    (["--log-level", "INFO"],
     "--log-level: 'INFO' is not err, warn, info or debug"),
    (["extra-word"], "unexpected argument 'extra-word'"),
])
def test_bad_option_values_are_refused(tmp_path, args, message):
    state = tmp_path / "state"
    res = vswitchd("--state-dir", state, *args)
    assert res.returncode == 1, res
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"vswitchd: {message}"), \
        res.stderr
    # Refused before touching anything.
    assert not state.exists()


def test_relative_state_dir_is_refused(tmp_path):
    res = subprocess.run([str(VSWITCHD), "--state-dir", "state"],
                         cwd=tmp_path, capture_output=True, text=True,
                         timeout=30)
    assert res.returncode == 1
    assert "absolute path" in res.stderr and "'state'" in res.stderr
    assert not (tmp_path / "state").exists()


# ---- Detaching, pidfile, socket and log ----

def our_vswitchd_children():
    """Pids of the vswitchd processes whose parent is this process."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                text = f.read()
        except OSError:
            continue
        comm = text[text.index("(") + 1:text.rindex(")")]
        ppid = int(text.rsplit(")", 1)[1].split()[1])
        if comm == "vswitchd" and ppid == os.getpid():
            pids.append(int(entry))
    return pids


@contextlib.contextmanager
def adopting_detached_daemons():
    """Makes this process the subreaper of what it starts, so that a
    daemon that detaches becomes its child, whose exit status it can
    learn; at the end, kills and reaps any such daemon still there."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    try:
        yield
    finally:
        for pid in our_vswitchd_children():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def test_detach_pidfile_and_sigterm(tmp_path):
    state = tmp_path / "state"
    sock = state / "vswitchd.sock"
    pidfile = state / "vswitchd.pid"
    errors = tmp_path / "stderr"
    with adopting_detached_daemons():
        with open(errors, "w") as err:
            launcher = subprocess.Popen(
                [str(VSWITCHD), "--detach", "--state-dir", str(state),
                 "--workers", "1"], stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, stderr=err)
        assert launcher.wait(timeout=30) == 0, errors.read_text()
        launcher.stdin.close()
        # The parent returns once the daemon serves: no wait needed.  The
        # pidfile is written last, so it must be there already.
        assert stat.S_ISSOCK(sock.stat().st_mode)
        assert pidfile.exists()
        status = json.loads(ctl(sock, "--format", "json", "status").stdout)
        pid = int(pidfile.read_text())
        assert pidfile.read_text() == f"{pid}\n"
        assert status["pid"] == pid != launcher.pid
        assert our_vswitchd_children() == [pid]
        # It runs in a session of its own, reads nothing from stdin, and
        # without --log-file logs to the state directory (a detached
        # daemon's stderr may go nowhere).
        assert os.getsid(pid) == pid
        assert os.readlink(f"/proc/{pid}/fd/0") == "/dev/null"
        assert re.search(r" info: vswitchd \S+ ready: ",
                         (state / "vswitchd.log").read_text())

        os.kill(pid, signal.SIGTERM)
        _, wstatus = os.waitpid(pid, 0)
        assert os.WIFEXITED(wstatus) and os.WEXITSTATUS(wstatus) == 0
        assert not pidfile.exists()
        assert not sock.exists()
    assert_no_sanitizer_report(errors.read_text())


def test_detach_waits_for_startup(tmp_path):
    """The launcher is still waiting while the daemon reads its
    configuration, which a FIFO holds up until the test writes it."""
    state = tmp_path / "state"
    state.mkdir()
    fifo = state / "config.json"
    os.mkfifo(fifo)
    errors = tmp_path / "stderr"

    def open_writer():
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            return None

    with adopting_detached_daemons():
        with open(errors, "w") as err:
            launcher = subprocess.Popen(
                [str(VSWITCHD), "--detach", "--state-dir", str(state),
                 "--workers", "1"], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=err)
        try:
            # Opening succeeds once the daemon has the FIFO open for
            # reading: it is starting, not ready, so the launcher must
            # still wait.
            fd = wait_for(open_writer, timeout=20)
            try:
                assert launcher.poll() is None
                assert not (state / "vswitchd.pid").exists()
                os.write(fd, b'{"format": 1, "switches": [{"name": "sw0", '
                             b'"mac-ageing": 77, "ports": []}]}\n')
            finally:
                os.close(fd)
            assert launcher.wait(timeout=30) == 0, errors.read_text()
        finally:
            if launcher.poll() is None:
                launcher.kill()
                launcher.wait()
        pid = int((state / "vswitchd.pid").read_text())
        sw = json.loads(ctl(state / "vswitchd.sock", "-f", "json", "switch",
                            "get", "sw0").stdout)
        assert sw["mac-ageing"] == 77
        os.kill(pid, signal.SIGTERM)
        _, wstatus = os.waitpid(pid, 0)
        assert os.WIFEXITED(wstatus) and os.WEXITSTATUS(wstatus) == 0
    assert_no_sanitizer_report(errors.read_text())


def test_detach_reports_failure(daemon_factory, tmp_path):
    """A daemon that cannot start makes --detach fail, not succeed."""
    first = daemon_factory()
    res = vswitchd("--detach", "--state-dir", first.state_dir,
                   "--workers", "1")
    assert res.returncode == 1
    assert "another vswitchd already runs" in res.stderr
    assert first.rpc("system.status")["pid"] == first.proc.pid


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT],
                         ids=["SIGTERM", "SIGINT"])
def test_pidfile_option_and_clean_exit(daemon_factory, tmp_path, sig):
    daemon = daemon_factory(start=False)
    pidfile = tmp_path / "elsewhere.pid"
    daemon.start(f"--pidfile={pidfile}")
    assert pidfile.read_text() == f"{daemon.proc.pid}\n"
    assert not (daemon.state_dir / "vswitchd.pid").exists()
    daemon.proc.send_signal(sig)
    assert daemon.proc.wait(timeout=30) == 0
    assert not pidfile.exists()
    assert not daemon.socket.exists()
    assert f"signal {int(sig)}: exiting" in daemon.log.read_text()


def test_pidfile_argument_must_be_attached(tmp_path):
    """--pidfile takes an optional argument: docs/vswitchd.md says that
    '--pidfile PATH' is refused, and it is, before anything starts."""
    state = tmp_path / "state"
    pidfile = tmp_path / "elsewhere.pid"
    res = vswitchd("--state-dir", state, "--pidfile", pidfile)
    assert res.returncode == 1
    assert res.stderr == (f"vswitchd: unexpected argument '{pidfile}' "
                          "(see --help)\n")
    assert not state.exists() and not pidfile.exists()


def test_help_shows_pidfile_argument_attached():
    assert "--pidfile[=PATH]" in vswitchd("--help").stdout


def test_unwritable_pidfile_is_refused(tmp_path):
    state = tmp_path / "state"
    pidfile = tmp_path / "no-such-dir" / "vswitchd.pid"
    res = vswitchd("--state-dir", state, f"--pidfile={pidfile}",
                   "--workers", "1", "--log-file", tmp_path / "log")
    assert res.returncode == 1
    assert res.stderr == (f"vswitchd: cannot write pidfile {pidfile}: "
                          "No such file or directory\n")
    assert not pidfile.exists()


def test_refused_start_leaves_no_socket(tmp_path):
    state = tmp_path / "state"
    pidfile = tmp_path / "no-such-dir" / "vswitchd.pid"
    res = vswitchd("--state-dir", state, f"--pidfile={pidfile}",
                   "--workers", "1", "--log-file", tmp_path / "log")
    assert res.returncode == 1
    assert not (state / "vswitchd.sock").exists()


def test_socket_option(daemon_factory, tmp_path):
    daemon = daemon_factory(start=False)
    daemon.socket = tmp_path / "elsewhere" / "ctl.sock"
    daemon.socket.parent.mkdir()
    daemon.start("--socket", str(daemon.socket))
    assert not (daemon.state_dir / "vswitchd.sock").exists()
    assert stat.S_ISSOCK(daemon.socket.stat().st_mode)
    status = json.loads(ctl(daemon.socket, "-f", "json", "status").stdout)
    assert status["socket"] == str(daemon.socket)
    assert status["state-dir"] == str(daemon.state_dir)
    assert ctl(daemon.state_dir / "vswitchd.sock", "status",
               check=False).returncode == 1
    assert daemon.stop() == 0
    assert not daemon.socket.exists()


def test_log_file(tmp_path):
    state = tmp_path / "parent" / "state"
    log = tmp_path / "vswitchd.log"
    errors = tmp_path / "stderr"
    with open(errors, "w") as err:
        proc = subprocess.Popen(
            [str(VSWITCHD), "--state-dir", str(state), "--log-file",
             str(log), "--workers", "1"], stdout=subprocess.DEVNULL,
            stderr=err)
    try:
        wait_for(lambda: ctl(state / "vswitchd.sock", "status",
                             check=False).returncode == 0, timeout=20)
        ctl(state / "vswitchd.sock", "switch", "add", "sw0")
    finally:
        stop_quietly(proc)
    assert proc.returncode == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(log.stat().st_mode) == 0o640 & ~umask
    # The state directory and its missing parent were created.
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE(state.parent.stat().st_mode) == 0o755 & ~umask
    text = log.read_text()
    lines = text.splitlines()
    assert any(re.search(r" info: vswitchd \S+ ready: state "
                         + re.escape(str(state)), line) for line in lines)
    assert lines[-1].endswith("info: signal 15: exiting")
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \w+: ", line)
               for line in lines), text
    # Nothing went to stderr instead.
    assert errors.read_text() == ""

    # Without --log-file, the same lines go to stderr.
    with open(errors, "w") as err:
        proc = subprocess.Popen(
            [str(VSWITCHD), "--state-dir", str(state), "--workers", "1"],
            stdout=subprocess.DEVNULL, stderr=err)
    try:
        wait_for(lambda: ctl(state / "vswitchd.sock", "status",
                             check=False).returncode == 0, timeout=20)
    finally:
        stop_quietly(proc)
    assert proc.returncode == 0
    assert_no_sanitizer_report(errors.read_text())
    assert re.search(r" info: vswitchd \S+ ready: ", errors.read_text())
    # The log file was left alone.
    assert log.read_text() == text


def missing_uplink_config(ifname):
    return {"format": 2, "switches": [{
        "name": "sw0",
        "settings": {"mac-ageing": 300, "mac-table-size": 65536},
        "ports": [{"name": "up0",
                   "settings": {"type": "uplink", "ifname": ifname,
                                "vlan-mode": "untagged", "mac-limit": 0}}]}]}


@pytest.mark.parametrize("level, shown", [
    ("debug", {"err", "info"}),
    ("info", {"err", "info"}),
    ("warn", {"err"}),
    ("err", {"err"}),
])
def test_log_level(daemon_factory, topo, level, shown):
    daemon = daemon_factory(start=False)
    # An uplink whose interface is missing: an error at start.
    daemon.state_dir.mkdir()
    (daemon.state_dir / "config.json").write_text(
        json.dumps(missing_uplink_config(topo.ifname("no"))))
    daemon.start("--log-level", level)
    daemon.rpc("switch.add", name="sw1")
    assert daemon.stop() == 0
    text = daemon.log.read_text()
    assert log_levels(text) == shown, text
    assert ("ready: state" in text) == ("info" in shown)
    assert ("signal 15: exiting" in text) == ("info" in shown)
    assert re.search(r" err: port up0: cannot open ", text), text


# ---- One daemon per state directory ----

def test_second_daemon_is_refused(daemon_factory, tmp_path):
    first = daemon_factory()
    first.rpc("switch.add", name="sw0")
    sock_ino = first.socket.stat().st_ino
    pid_text = (first.state_dir / "vswitchd.pid").read_text()
    other_sock = tmp_path / "other.sock"
    for extra in ([], ["--socket", other_sock]):
        res = vswitchd("--state-dir", first.state_dir, "--workers", "1",
                       "--log-file", tmp_path / "second.log", *extra)
        assert res.returncode == 1
        assert res.stderr == ("vswitchd: another vswitchd already runs on "
                              f"{first.state_dir}\n")
        # The first keeps serving, on the same socket, with its pidfile.
        assert first.running()
        assert first.socket.stat().st_ino == sock_ino
        assert (first.state_dir / "vswitchd.pid").read_text() == pid_text
        assert [s["name"] for s in first.rpc("switch.list")["switches"]] \
            == ["sw0"]
        assert ctl(first.socket, "status").returncode == 0
        assert not other_sock.exists()

    # Once the first has stopped, the state directory is free again.
    assert first.stop() == 0
    first.start()
    assert [s["name"] for s in first.rpc("switch.list")["switches"]] == [
        "sw0"]


def test_second_daemon_on_same_socket_is_refused(daemon_factory, tmp_path):
    first = daemon_factory()
    first.rpc("switch.add", name="sw0")
    sock_ino = first.socket.stat().st_ino
    log = tmp_path / "second.log"
    second = subprocess.Popen(
        [str(VSWITCHD), "--state-dir", str(tmp_path / "other"), "--socket",
         str(first.socket), "--workers", "1", "--log-file", str(log)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # Either it gives up, or it has replaced the socket.
        wait_for(lambda: second.poll() is not None
                 or not first.socket.exists()
                 or first.socket.stat().st_ino != sock_ino, timeout=20)
        assert first.socket.stat().st_ino == sock_ino
        assert first.rpc("system.status")["pid"] == first.proc.pid
        assert second.wait(timeout=20) == 1
        assert str(first.socket) in second.stderr.read()
    finally:
        stop_quietly(second)
        assert_no_sanitizer_report(log.read_text() if log.exists() else "")


# ---- Status ----

def test_status_reports_identity(daemon_factory):
    daemon = daemon_factory(workers=3)
    status = daemon.rpc("system.status")
    assert status["pid"] == daemon.proc.pid
    assert status["state-dir"] == str(daemon.state_dir)
    assert status["socket"] == str(daemon.socket)
    assert [w["worker"] for w in status["workers"]] == [0, 1, 2]
    assert (status["switches"], status["ports"]) == (0, 0)
    assert status["version"] == vswitchd("--version").stdout.split()[1]
    assert isinstance(status["uptime"], int) and status["uptime"] >= 0


def test_busy_poll_option(daemon_factory):
    daemon = daemon_factory(start=False)
    daemon.start("--busy-poll", workers=1)
    assert daemon.rpc("dp.show")["busy-poll"] is True
    assert daemon.stop() == 0
    daemon.start(workers=1)
    assert daemon.rpc("dp.show")["busy-poll"] is False


@pytest.mark.serial  # a spinning worker's CPU share
def test_busy_poll_shows_its_cpu_beside_an_idle_load(daemon_factory):
    """A spinning worker without traffic: no load (no time on packets),
    but the CPU it burns shows, so dp show agrees with top.  A sleeping
    worker uses next to nothing."""
    def first_worker_after_samples(*options):
        daemon.start(*options, workers=1)
        time.sleep(2.5)  # the 1 s tick samples loads and CPU
        return daemon.rpc("dp.show")["workers"][0]

    daemon = daemon_factory(start=False)
    spinning = first_worker_after_samples("--busy-poll")
    assert spinning["load"] == 0.0, spinning
    assert spinning["cpu"] > 0.2, spinning
    assert daemon.stop() == 0
    sleeping = first_worker_after_samples()
    assert sleeping["cpu"] < spinning["cpu"] / 2, (sleeping, spinning)


def test_status_counts(daemon_factory, topo):
    daemon = daemon_factory(workers=1)
    daemon.rpc("switch.add", name="sw0")
    daemon.rpc("switch.add", name="sw1")
    add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1")
    add_vm(daemon, topo, "sw1", "vm2", "198.18.0.2")
    status = daemon.rpc("system.status")
    assert (status["switches"], status["ports"]) == (2, 2)
    assert len(status["workers"]) == 1
    # The one worker polls both ports.
    assert status["workers"][0]["queues"] >= 2


# ---- Restart with VMs attached ----

def test_sigterm_keeps_vms_and_restart_forwards(daemon_factory, topo):
    daemon = daemon_factory()
    daemon.rpc("switch.add", name="sw0")
    vms = {"vm1": add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1"),
           "vm2": add_vm(daemon, topo, "sw0", "vm2", "198.18.0.2")}
    assert ping(vms["vm1"][0], "198.18.0.2")
    pins = {port: daemon.state_dir / "netns" / port for port in vms}
    for pin in pins.values():
        wait_for(pin.exists)
    netns_before = {p["name"]: p["netns"]
                    for p in daemon.rpc("port.list")["ports"]}

    assert daemon.stop() == 0
    for port, (ns, ifname) in vms.items():
        # The TAP is still there, in the VM's namespace...
        assert sh(["ip", "-n", ns, "link", "show", ifname]).returncode == 0
        # ...and the pin still holds that namespace.
        assert (pins[port].stat().st_ino
                == os.stat(f"/run/netns/{ns}").st_ino)
        assert netns_before[port] == f"net:[{pins[port].stat().st_ino}]"
    assert not ping(vms["vm1"][0], "198.18.0.2", count=1)

    daemon.start()
    ports = {p["name"]: p for p in daemon.rpc("port.list")["ports"]}
    assert {n: p["netns"] for n, p in ports.items()} == netns_before
    assert all("error" not in p for p in ports.values()), ports
    assert ping(vms["vm1"][0], "198.18.0.2")
    assert ping(vms["vm2"][0], "198.18.0.1")
    assert daemon.log.read_text().count("reattached to its TAP") == 2


# ---- An uplink whose interface is missing ----

def test_absent_uplink_is_kept_and_comes_back(daemon_factory, topo):
    daemon = daemon_factory()
    daemon.rpc("switch.add", name="sw0")
    vm1, if1 = add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1")
    up, peer = topo.veth()
    host = topo.netns("host")

    def plumb_host():
        sh(["ip", "link", "set", peer, "netns", host])
        sh(["ip", "-n", host, "addr", "add", "198.18.0.100/24", "dev", peer])
        sh(["ip", "-n", host, "link", "set", peer, "up"])

    plumb_host()
    daemon.rpc("port.add", switch="sw0", name="up0", type="uplink",
               ifname=up)
    assert ping(vm1, "198.18.0.100")

    assert daemon.stop() == 0
    sh(["ip", "link", "del", up])
    daemon.start()

    port = daemon.rpc("port.get", name="up0")
    assert port["link"] == "absent"
    assert up in port["error"]
    assert [p["name"] for p in daemon.rpc("port.list")["ports"]] == [
        "vm1", "up0"]
    saved = json.loads((daemon.state_dir / "config.json").read_text())
    assert [p["name"] for p in saved["switches"][0]["ports"]] == [
        "vm1", "up0"]
    # The CLI shows why.
    shown = ctl(daemon.socket, "show").stdout
    assert f"        error: {port['error']}\n" in shown
    assert "        link: absent\n" in shown
    assert not ping(vm1, "198.18.0.100", count=1)

    # The interface comes back: the daemon picks it up by itself.
    sh(["ip", "link", "add", up, "type", "veth", "peer", "name", peer])
    sh(["ip", "link", "set", up, "up"])
    plumb_host()
    port = wait_for(lambda: (lambda p: p if p["link"] != "absent" else None)(
        daemon.rpc("port.get", name="up0")), timeout=10)
    assert "error" not in port, port
    # The host behind it has a new MAC address: forget the old one.
    sh(["ip", "-n", vm1, "neigh", "flush", "dev", if1])
    wait_for(lambda: ping(vm1, "198.18.0.100", count=1), timeout=10)
    assert ping(vm1, "198.18.0.100")
    assert "port up0: device " in daemon.log.read_text()


# ---- The configuration file ----

def config_view(saved):
    """What the configuration file says, in comparable form."""
    def port(p):
        s = p["settings"]
        return (p["name"], s["type"], s["ifname"], s["vlan-mode"],
                s.get("vlan"), s.get("trunks"), s.get("native-vlan"),
                s["mac-limit"])
    return {sw["name"]: (sw["settings"]["mac-ageing"],
                         sw["settings"]["mac-table-size"],
                         [port(p) for p in sw["ports"]])
            for sw in saved["switches"]}


def daemon_view(daemon):
    """What the daemon says, in the same form."""
    ports = daemon.rpc("port.list")["ports"]
    return {sw["name"]: (sw["mac-ageing"], sw["mac-table-size"],
                         [(p["name"], p["type"], p["ifname"],
                           p["vlan-mode"], p.get("vlan"), p.get("trunks"),
                           p.get("native-vlan"), p["mac-limit"])
                          for p in ports if p["switch"] == sw["name"]])
            for sw in daemon.rpc("switch.list")["switches"]}


def test_config_is_valid_json_after_every_change(daemon_factory, topo):
    daemon = daemon_factory()
    config = daemon.state_dir / "config.json"
    if1, if2 = topo.ifname(), topo.ifname()
    up, _ = topo.veth()
    changes = [
        ["switch", "add", "sw0"],
        ["switch", "add", "sw1", "mac-ageing=60", "mac-table-size=128"],
        ["port", "add", "sw0", "vm1", "type=tap", f"ifname={if1}",
         "mac=02:00:00:00:00:01"],
        ["port", "add", "sw0", "vm2", "type=tap", f"ifname={if2}",
         "vlan-mode=access", "vlan=10"],
        ["port", "add", "sw1", "up1", "type=uplink", f"ifname={up}"],
        ["port", "set", "up1", "vlan-mode=trunk", "trunks=10,20-30",
         "native-vlan=1"],
        ["port", "set", "vm1", "mac-limit=4"],
        ["switch", "set", "sw0", "mac-ageing=10"],
        ["fdb", "flush", "sw0"],
        ["port", "set", "vm2", "vlan-mode=untagged"],
        ["port", "del", "vm1"],
        ["switch", "del", "--force", "sw1"],
    ]
    seen = set()
    for args in changes:
        ctl(daemon.socket, *args)
        text = config.read_text()
        saved = json.loads(text)
        assert saved["format"] == 2
        assert config_view(saved) == daemon_view(daemon), args
        assert stat.S_IMODE(config.stat().st_mode) == 0o600
        # Written whole and renamed: no temporary file is left behind.
        assert sorted(p.name for p in daemon.state_dir.iterdir()
                      if p.name.startswith("config")) == ["config.json"]
        seen.add(text)
    assert len(seen) >= len(changes) - 1  # fdb flush changes no setting
    assert config_view(json.loads(config.read_text())) == {
        "sw0": (10, 65536, [("vm2", "tap", if2, "untagged", None, None,
                             None, 0)])}

    # A refused change leaves the file alone.
    text = config.read_text()
    assert ctl(daemon.socket, "port", "set", "vm2", "vlan=5",
               check=False).returncode == 1
    assert config.read_text() == text

    # A restarted daemon reads back exactly what it wrote.
    view = daemon_view(daemon)
    assert daemon.stop() == 0
    daemon.start()
    assert daemon_view(daemon) == view
    assert config_view(json.loads(config.read_text())) == view


@pytest.mark.parametrize("content", [
    b"\x00\xff\xfegarbage{{{ not json",
    b'{"format": 1, "switches": [{"name": "sw0", "ports": [',
    b"[1, 2, 3]",
    b'{"format": 99, "switches": []}',
    b'{"format": 1, "switches": [], "format": 1}',
], ids=["garbage", "truncated", "array", "format", "duplicate-key"])
def test_corrupt_config_refuses_to_start(tmp_path, content):
    state = tmp_path / "state"
    state.mkdir()
    config = state / "config.json"
    config.write_bytes(content)
    log = tmp_path / "vswitchd.log"
    res = vswitchd("--state-dir", state, "--log-file", log, "--workers", "1")
    assert res.returncode == 1, res
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(f"vswitchd: {config}"), res.stderr
    # Nothing was overwritten or served.
    assert config.read_bytes() == content
    assert not (state / "vswitchd.sock").exists()
    assert not (state / "vswitchd.pid").exists()
    assert "ready" not in (log.read_text() if log.exists() else "")

    # Moved away, the daemon starts empty.
    config.rename(state / "config.json.bad")
    daemon = Daemon(state)
    try:
        daemon.start(workers=1)
        assert daemon.rpc("switch.list") == {"switches": []}
    finally:
        assert daemon.stop() == 0
    assert_no_sanitizer_report(daemon.log.read_text())
