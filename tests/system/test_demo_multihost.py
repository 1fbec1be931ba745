"""scripts/demo-multihost.sh runs (CI): three hosts, two tenants with the
same addresses, a migration under a 10 ms ping; it passes, prints its
verdicts, and leaves nothing behind."""

import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import BUILD

# Runs alone in scripts/test.sh: it counts pings lost while a VM moves.
pytestmark = pytest.mark.serial

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "demo-multihost.sh"


def test_demo_multihost_passes_and_cleans_up():
    proc = subprocess.Popen(["/bin/sh", str(SCRIPT)],
                            env=dict(os.environ, BUILD_DIR=str(BUILD)),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    # The script names everything after its own process id.
    prefix = f"dmh{proc.pid}"
    try:
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print(out)
    assert proc.returncode == 0, out
    for line in ("a1 -> 10.50.0.2: reachable   (expected reachable)",
                 "b1 -> 10.50.0.3: unreachable (expected unreachable)",
                 "a3 -> 10.50.0.1: reachable   (expected reachable)",
                 "== multi-host demo passed"):
        assert line in out, line
    lost = re.search(r"pings: (\d+) sent, (\d+) received, (\d+) lost", out)
    assert lost and int(lost.group(1)) == 300 and int(lost.group(3)) <= 50
    assert '"ipv4":["10.50.0.1"]' in out, out
    # Host 3 learned a1's MAC at host 2 after the move.
    assert re.search(r"5001\s+02:00:01:00:00:11\s+10\.77\.0\.2", out), out
    left = subprocess.run(["ip", "netns", "list"], capture_output=True,
                          text=True).stdout
    assert prefix not in left, left
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True,
                           text=True).stdout
    assert prefix not in links, links
