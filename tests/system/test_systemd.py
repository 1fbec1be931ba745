"""The systemd unit (packaging/systemd/vswitchd.service.in) and the
daemon's side of Type=notify: `systemd-analyze verify` accepts the unit,
and vswitchd sends READY=1 to $NOTIFY_SOCKET once it serves, STOPPING=1
when it stops.  No systemd as PID 1 is needed: the test plays its part.
"""

import os
import shutil
import signal
import socket
import subprocess

import pytest

from conftest import BUILD, TOP, VSWITCHD, Daemon

UNIT_IN = TOP / "packaging" / "systemd" / "vswitchd.service.in"


def test_unit_passes_systemd_analyze_verify(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    # As `cmake --install` makes it, naming the vswitchd just built.
    unit = tmp_path / "vswitchd.service"
    unit.write_text(UNIT_IN.read_text().replace(
        "@VSW_SBINDIR@", str(BUILD / "vswitchd")))
    assert "@" not in unit.read_text()
    # --man=no: the unit's Documentation= page is installed with the
    # program, not in this build (test_install.py checks it there).
    res = subprocess.run(["systemd-analyze", "verify", "--man=no",
                          str(unit)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    # Warnings come on stderr with a zero status: there must be none about
    # this unit.
    assert "vswitchd.service" not in res.stderr, res.stderr


def test_unit_naming_a_missing_program_fails_verify(tmp_path):
    """The check above can fail: a unit whose program is missing is
    reported."""
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    unit = tmp_path / "vswitchd.service"
    unit.write_text(UNIT_IN.read_text().replace(
        "@VSW_SBINDIR@", str(tmp_path / "missing")))
    res = subprocess.run(["systemd-analyze", "verify", "--man=no",
                          str(unit)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode != 0 or "vswitchd.service" in res.stderr


def test_daemon_notifies_ready_then_stopping(tmp_path):
    notify_path = tmp_path / "notify"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(notify_path))
    listener.settimeout(30)
    daemon = Daemon(tmp_path / "state")
    daemon.state_dir.mkdir()
    env = dict(os.environ, NOTIFY_SOCKET=str(notify_path))
    proc = subprocess.Popen(
        [str(VSWITCHD), "--state-dir", str(daemon.state_dir),
         "--log-file", str(daemon.log), "--workers", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    daemon.proc = proc
    try:
        message = listener.recv(4096).decode()
        fields = dict(line.split("=", 1) for line in message.splitlines())
        assert fields["READY"] == "1"
        assert fields["MAINPID"] == str(proc.pid)
        # Ready means serving: the socket answers at once.
        assert daemon.rpc("system.status")["pid"] == proc.pid
        proc.send_signal(signal.SIGTERM)
        assert "STOPPING=1" in listener.recv(4096).decode()
        assert proc.wait(timeout=30) == 0
    finally:
        daemon.stop()
        listener.close()
        report = daemon.sanitizer_report()
        assert not report, report
