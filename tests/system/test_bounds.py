"""Every bounded table shows in the status with its use, its bound and how
often the bound was reached; reaching it is logged once.  Bounds are
filled for real: a VM sending many source MACs into a small MAC table,
connections up to the server's cap, a capture nobody reads."""

import json
import socket
import struct
import time

from conftest import RpcError, add_vm, sh, unique, wait_for
from frames import BROADCAST, RawPort, mac_bytes

TABLES = {"mac-table", "stateful-flows", "flow-cache", "shaper-spares",
          "mirror-destinations", "capture-sessions", "ext-deferred-frees",
          "rpc-connections", "rpc-request", "rpc-output"}


def bound(daemon, table, owner):
    rows = [r for r in daemon.rpc("system.status")["bounds"]
            if r["table"] == table and r["owner"] == owner]
    assert len(rows) == 1, (table, owner, rows)
    return rows[0]


def log_lines(daemon, text):
    return [line for line in daemon.log.read_text().splitlines()
            if text in line]


def test_status_lists_every_bound(daemon, topo):
    sw = unique("sw")
    daemon.rpc("switch.add", name=sw)
    port = unique("p")
    add_vm(daemon, topo, sw, port)
    daemon.rpc("port.set", name=port, dhcp_guard=True)
    rows = daemon.rpc("system.status")["bounds"]
    assert {r["table"] for r in rows} >= TABLES | {"fragment-table"}
    for r in rows:
        assert set(r) == {"table", "owner", "unit", "used", "bound", "full"}
        assert 0 <= r["used"] <= r["bound"], r
        assert r["full"] == 0, r
    assert bound(daemon, "mac-table", f"switch:{sw}")["bound"] == 65536
    assert bound(daemon, "fragment-table", f"port:{port}")["bound"] == 128
    assert bound(daemon, "flow-cache", "worker:1")["bound"] > 0
    assert bound(daemon, "mirror-destinations", f"switch:{sw}")["bound"] == 32

    # The CLI shows the same rows, in a table and as JSON.
    text = daemon.ctl("status", json_out=False).stdout
    assert "TABLE" in text and f"switch:{sw}" in text
    assert {r["table"] for r in daemon.ctl("status")["bounds"]} >= TABLES


def test_mac_table_bound(daemon, topo):
    sw = unique("sw")
    daemon.rpc("switch.add", name=sw, mac_table_size=8)
    port = unique("p")
    ns, ifname = add_vm(daemon, topo, sw, port)
    raw = RawPort(ns, ifname)
    try:
        def flood(first, n):
            for i in range(first, first + n):
                src = bytes([0x02, 0xbb, 0, 0, i >> 8, i & 0xff])
                raw.send(mac_bytes(BROADCAST) + src + struct.pack("!H", 0x88B5)
                         + b"\0" * 46)

        flood(0, 40)
        row = wait_for(lambda: (lambda r: r["full"] >= 32 and r)(
            bound(daemon, "mac-table", f"switch:{sw}")))
        assert row["used"] == 8 and row["bound"] == 8, row
        assert row["unit"] == "entries"
        assert len(daemon.rpc("fdb.show", switch=sw)["entries"]) == 8

        line = f"bound reached: mac-table of switch {sw} is full (8 of 8"
        wait_for(lambda: log_lines(daemon, line))
        # Reaching it again within a minute is counted, not logged again.
        flood(100, 40)
        wait_for(lambda: bound(daemon, "mac-table",
                               f"switch:{sw}")["full"] >= 72)
        time.sleep(1.5)  # two ticks: a second line would be there by now
        assert len(log_lines(daemon, f"mac-table of switch {sw}")) == 1
    finally:
        raw.close()


def status_row_when_room(daemon, refusals):
    """The rpc-connections row, or None (counted in 'refusals') while the
    daemon still has no room for the status's own connection."""
    try:
        return bound(daemon, "rpc-connections", "daemon")
    except RpcError as e:
        assert "too many connections" in e.message
        refusals.append(e)
        return None


def test_rpc_connection_bound(daemon):
    conns = []
    try:
        # The status's own connection is one of the 128.
        for _ in range(127):
            s = socket.socket(socket.AF_UNIX)
            s.connect(str(daemon.socket))
            conns.append(s)
        wait_for(lambda: bound(daemon, "rpc-connections",
                               "daemon")["used"] == 128)
        # The last free place, then three too many.
        s = socket.socket(socket.AF_UNIX)
        s.connect(str(daemon.socket))
        conns.append(s)
        refused = []
        for _ in range(3):
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(10)
            s.connect(str(daemon.socket))
            conns.append(s)
        for s in conns[-3:]:
            reply = json.loads(s.makefile().readline())
            refused.append(reply["error"]["message"])
        assert all("too many connections (at most 128)" in m
                   for m in refused), refused
        conns.pop(0).close()
        # Until the daemon sees the close, the status is refused too.
        status_refused = []
        row = wait_for(lambda: status_row_when_room(daemon, status_refused))
        assert row["bound"] == 128, row
        assert row["full"] == 3 + len(status_refused), row
        line = "bound reached: rpc-connections of daemon is full"
        wait_for(lambda: log_lines(daemon, line))
        time.sleep(1.5)
        assert len(log_lines(daemon, "rpc-connections of daemon")) == 1
    finally:
        for s in conns:
            s.close()
    wait_for(lambda: bound(daemon, "rpc-connections", "daemon")["used"] == 1)


def test_capture_buffer_bound(daemon, topo):
    sw = unique("sw")
    daemon.rpc("switch.add", name=sw)
    p1, p2 = unique("p"), unique("p")
    ns1, _ = add_vm(daemon, topo, sw, p1, ip="198.18.7.1")
    add_vm(daemon, topo, sw, p2, ip="198.18.7.2")
    conn = socket.socket(socket.AF_UNIX)
    conn.connect(str(daemon.socket))
    reader = conn.makefile()
    try:
        conn.sendall(json.dumps({
            "jsonrpc": "2.0", "id": 1, "method": "capture.start",
            "params": {"target": p1, "buffer": 4096}}).encode() + b"\n")
        cid = json.loads(reader.readline())["result"]["id"]
        # Nobody reads: a few hundred frames overflow 4 KiB rings.
        sh(["ping", "-c", "300", "-i", "0.002", "-s", "200", "-q",
            "198.18.7.2"], ns=ns1, check=False, timeout=60)
        row = wait_for(lambda: (lambda r: r["full"] > 0 and r)(
            bound(daemon, "capture-buffer", f"capture:{cid}")))
        # A ring per worker, and one for what the control thread sends.
        workers = len(daemon.rpc("system.status")["workers"])
        assert row["bound"] == 4096 * (workers + 1), row
        assert row["unit"] == "bytes"
        assert 0 < row["used"] <= row["bound"], row
        drops = [c for c in daemon.rpc("capture.list")["captures"]
                 if c["id"] == cid][0]["drops"]
        assert row["full"] == drops, (row, drops)
        assert bound(daemon, "capture-sessions", "daemon")["used"] == 1
        line = f"bound reached: capture-buffer of capture {cid} is full"
        wait_for(lambda: log_lines(daemon, line))
        time.sleep(1.5)
        assert len(log_lines(daemon, f"capture-buffer of capture {cid}")) \
            == 1
    finally:
        reader.close()
        conn.close()
    # The session ends with its connection, and its row with it.
    wait_for(lambda: not [r for r in daemon.rpc("system.status")["bounds"]
                          if r["table"] == "capture-buffer"])


def test_teams_and_tunnels_report_their_tables(daemon, topo):
    """A team shows its members (and, in LACP mode, its partners); a
    tunnel its learned mappings, which a datagram from a remote VTEP
    fills."""
    sw = unique("sw")
    daemon.rpc("switch.add", name=sw)
    a, _ = topo.veth()
    team = unique("tm")
    daemon.rpc("team.add", switch=sw, name=team, members=f"{a}", mode="lacp")
    members = bound(daemon, "team-members", f"team:{team}")
    assert (members["used"], members["bound"]) == (1, 16), members
    partners = bound(daemon, "lacp-partners", f"team:{team}")
    assert (partners["used"], partners["bound"]) == (0, 16), partners

    tunnel = unique("vx")
    # A port no other run of the suite (release and ASan side by side) uses.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        vxlan_port = probe.getsockname()[1]
    daemon.rpc("tunnel.add", switch=sw, name=tunnel, local_ip="127.0.0.1",
               dst_port=vxlan_port, learn_unknown_vteps=True)
    port = unique("p")
    add_vm(daemon, topo, sw, port)
    daemon.rpc("port.set", name=port, vni=5001)
    row = bound(daemon, "tunnel-mappings", f"tunnel:{tunnel}")
    assert (row["used"], row["bound"], row["full"]) == (0, 65536, 0), row
    # A VXLAN datagram of VNI 5001 from 127.0.0.1 teaches one mapping.
    inner = (b"\xff" * 6 + bytes([0x02, 0xcc, 0, 0, 0, 1]) +
             struct.pack("!H", 0x88B5) + b"\0" * 46)
    vxlan = struct.pack("!II", 0x08000000, 5001 << 8) + inner
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(vxlan, ("127.0.0.1", vxlan_port))
    wait_for(lambda: bound(daemon, "tunnel-mappings",
                           f"tunnel:{tunnel}")["used"] == 1)
