"""vswitch-ctl against a real vswitchd: every command, both output formats,
exit statuses, the socket options and the help."""

import json
import os
import re
import socket
import threading

import pytest

from conftest import VSWITCH_CTL, add_vm, ping, sh

# The commands this file knows, as their words, in the order the general
# help lists them; the help may list more (each is checked all the same).
COMMANDS = [
    ("switch", "add"), ("switch", "del"), ("switch", "set"),
    ("switch", "get"), ("switch", "list"),
    ("port", "add"), ("port", "del"), ("port", "set"), ("port", "get"),
    ("port", "list"), ("port", "stats"),
    ("fdb", "show"), ("fdb", "flush"),
    ("dp", "show"),
    ("status",), ("show",), ("call",), ("help",),
]
NOUNS = ["switch", "port", "fdb", "dp"]
# Commands that are not one JSON-RPC call each.
NO_METHOD = {("show",), ("call",), ("help",)}


# ---- Helpers ----

def run(daemon, *args, rc=0, env=None, sock=True):
    """Runs vswitch-ctl with 'args' against 'daemon' (unless not 'sock') in
    table mode; checks its exit status is 'rc'."""
    cmd = [str(VSWITCH_CTL)]
    if sock:
        cmd += ["--socket", str(daemon.socket)]
    res = sh(cmd + [str(a) for a in args], check=False, env=env)
    # A sanitizer build of vswitch-ctl reports on stderr.
    assert "Sanitizer" not in res.stderr, res.stderr
    assert "runtime error:" not in res.stderr, res.stderr
    assert res.returncode == rc, (
        f"{args}: exit {res.returncode}, expected {rc}\n"
        f"stdout: {res.stdout}\nstderr: {res.stderr}")
    return res


def ctl_json(daemon, *args):
    """Runs a command with --format json; returns the parsed output after
    checking it is indented by two spaces."""
    res = run(daemon, "--format", "json", *args)
    assert res.stderr == ""
    lines = res.stdout.splitlines()
    if len(lines) > 1:
        assert re.match(r'^  [^ ]', lines[1]), res.stdout
    return json.loads(res.stdout)


def assert_one_line_error(res, rc):
    """'res' failed with 'rc', printed nothing, and said why in one line
    on stderr; returns that line."""
    assert res.returncode == rc, res
    assert res.stdout == "", res.stdout
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and res.stderr.endswith("\n"), res.stderr
    assert lines[0].startswith("vswitch-ctl: "), res.stderr
    assert len(lines[0]) > len("vswitch-ctl: ") + 3
    return lines[0]


def assert_no_trailing_spaces(text):
    for line in text.splitlines():
        assert line == line.rstrip(), f"trailing space in {line!r}"
    assert not text or text.endswith("\n")


def parse_table(lines, right=()):
    """Parses the lines of a table with a heading row.

    Checks that the headings are in capitals, that no line ends in a
    space and that every cell sits in its heading's column: a left-aligned
    cell starts where its heading starts, a right-aligned one (headings in
    'right') ends where its heading ends.  With right="auto", each column
    may be either, but the same for all its rows.  When the first column
    is left-aligned, lines that start with a space are notes of the row
    above.  Returns (headings, rows), each row a dict of heading to cell
    with its notes under "_notes".
    """
    assert lines, "no table"
    for line in lines:
        assert line == line.rstrip(), f"trailing space in {line!r}"
    header = lines[0]
    assert header == header.upper() and header.strip() == header, header
    cols = [(m.group(), m.start(), m.end())
            for m in re.finditer(r"\S+", header)]
    headings = [c[0] for c in cols]
    if right == "auto":
        right = {h for h, start, end in cols
                 if any(line[start:start + 1] == " " for line in lines[1:])}
    assert set(right) <= set(headings), (right, headings)
    rows = []
    for line in lines[1:]:
        if line.startswith(" ") and headings[0] not in right:
            assert rows, f"note before any row: {line!r}"
            rows[-1]["_notes"].append(line)
            continue
        cells = list(re.finditer(r"\S+", line))
        assert len(cells) == len(cols), f"{line!r} under {header!r}"
        row = {"_notes": []}
        for (heading, start, end), cell in zip(cols, cells):
            if heading in right:
                assert cell.end() == end, (
                    f"{heading}: {cell.group()!r} not right-aligned:\n"
                    f"{header}\n{line}")
            else:
                assert cell.start() == start, (
                    f"{heading}: {cell.group()!r} not aligned:\n"
                    f"{header}\n{line}")
            row[heading] = cell.group()
        rows.append(row)
    return headings, rows


def parse_key_values(lines):
    """Parses 'key  value' lines: the values must start in one column,
    two spaces after the longest key.  Returns a dict."""
    assert lines
    keys = [line.split(" ", 1)[0] for line in lines]
    column = max(len(k) for k in keys) + 2
    result = {}
    for line, key in zip(lines, keys):
        assert line == line.rstrip(), f"trailing space in {line!r}"
        assert line[len(key):column].strip() == "" and line[column] != " ", (
            f"value not in column {column}: {line!r}")
        result[key] = line[column:]
    return result


def cell_text(value):
    """How the table mode shows a JSON value."""
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def without(obj, *keys):
    return {k: v for k, v in obj.items() if k not in keys}


def snapshot(daemon):
    config = daemon.state_dir / "config.json"
    return (daemon.rpc("switch.list"), daemon.rpc("port.list"),
            config.read_text() if config.exists() else None)


# ---- Commands round-trip ----

def test_switch_commands_round_trip(daemon):
    # Table mode: a change prints nothing.
    res = run(daemon, "switch", "add", "sw0", "mac-ageing=120")
    assert res.stdout == "" and res.stderr == ""
    assert daemon.rpc("switch.get", name="sw0")["mac-ageing"] == 120

    # JSON mode: add and set print the switch as it now is.
    added = ctl_json(daemon, "switch", "add", "sw1", "mac-table-size=1024")
    assert added == daemon.rpc("switch.get", name="sw1")
    assert added["mac-table-size"] == 1024
    res = run(daemon, "--format", "json", "switch", "set", "sw1",
              "mac-ageing=42", "mac-table-size=2048")
    changed = json.loads(res.stdout)
    # A new table size empties the MAC table: the answer and stderr say so.
    note = ("mac-table-size changed: the MAC table was emptied and the "
            "switch relearns")
    assert changed.pop("notes") == [note]
    assert res.stderr == f"vswitch-ctl: note: {note}\n"
    assert changed == daemon.rpc("switch.get", name="sw1")
    assert (changed["mac-ageing"], changed["mac-table-size"]) == (42, 2048)
    res = run(daemon, "switch", "set", "sw0", "mac-ageing=7")
    assert res.stdout == ""
    assert daemon.rpc("switch.get", name="sw0")["mac-ageing"] == 7

    # get: JSON equals the RPC result; table is one "key  value" per
    # member, in the daemon's order.
    rpc = daemon.rpc("switch.get", name="sw0")
    assert ctl_json(daemon, "switch", "get", "sw0") == rpc
    shown = run(daemon, "switch", "get", "sw0").stdout
    assert_no_trailing_spaces(shown)
    kv = parse_key_values(shown.splitlines())
    assert list(kv) == list(rpc)
    assert kv == {k: cell_text(v) for k, v in rpc.items()}

    # list
    rpc = daemon.rpc("switch.list")
    assert [s["name"] for s in rpc["switches"]] == ["sw0", "sw1"]
    assert ctl_json(daemon, "switch", "list") == rpc
    _, rows = parse_table(run(daemon, "switch", "list").stdout.splitlines(),
                          right=("MAC-AGEING", "MAC-TABLE-SIZE",
                                 "MAC-COUNT"))
    assert [(r["NAME"], r["MAC-AGEING"], r["MAC-TABLE-SIZE"],
             r["MAC-COUNT"], r["PORTS"]) for r in rows] == [
        ("sw0", "7", "65536", "0", "-"), ("sw1", "42", "2048", "0", "-")]

    # del: nothing in table mode, {} in JSON mode.
    assert run(daemon, "switch", "del", "sw0").stdout == ""
    assert ctl_json(daemon, "switch", "del", "sw1") == {}
    assert daemon.rpc("switch.list") == {"switches": []}
    assert ctl_json(daemon, "switch", "list") == {"switches": []}
    # An empty list is still a table: its heading alone.
    headings, rows = parse_table(
        run(daemon, "switch", "list").stdout.splitlines())
    assert headings == ["NAME", "MAC-AGEING", "MAC-TABLE-SIZE", "MAC-COUNT",
                        "PORTS"] and rows == []


def test_port_commands_round_trip(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    daemon.rpc("switch.add", name="sw1")
    if1, if2, if3 = topo.ifname(), topo.ifname(), topo.ifname()

    res = run(daemon, "port", "add", "sw0", "vm1", "type=tap",
              f"ifname={if1}", "mac=02:00:00:00:00:01", "vlan-mode=access",
              "vlan=10")
    assert res.stdout == "" and res.stderr == ""
    port = daemon.rpc("port.get", name="vm1")
    assert (port["type"], port["ifname"], port["mac"], port["vlan-mode"],
            port["vlan"], port["switch"]) == (
        "tap", if1, "02:00:00:00:00:01", "access", 10, "sw0")
    assert sh(["ip", "link", "show", if1]).returncode == 0

    added = ctl_json(daemon, "port", "add", "sw0", "vm2", "type=tap",
                     f"ifname={if2}", "mac-limit=5")
    assert added == daemon.rpc("port.get", name="vm2")
    assert (added["name"], added["mac-limit"], added["vlan-mode"]) == (
        "vm2", 5, "untagged")
    run(daemon, "port", "add", "sw1", "vm3", "type=tap", f"ifname={if3}")

    # get
    rpc = daemon.rpc("port.get", name="vm1")
    assert ctl_json(daemon, "port", "get", "vm1") == rpc
    shown = run(daemon, "port", "get", "vm1").stdout
    assert_no_trailing_spaces(shown)
    kv = parse_key_values(shown.splitlines())
    assert list(kv) == list(rpc)
    assert kv == {k: cell_text(v) for k, v in rpc.items()}

    # set
    changed = ctl_json(daemon, "port", "set", "vm2", "vlan-mode=access",
                       "vlan=20", "mac-limit=0")
    assert changed == daemon.rpc("port.get", name="vm2")
    assert (changed["vlan-mode"], changed["vlan"], changed["mac-limit"]) == (
        "access", 20, 0)
    assert run(daemon, "port", "set", "vm2", "vlan=30").stdout == ""
    assert daemon.rpc("port.get", name="vm2")["vlan"] == 30

    # list, of all switches or of one
    rpc = daemon.rpc("port.list")
    assert [p["name"] for p in rpc["ports"]] == ["vm1", "vm2", "vm3"]
    assert ctl_json(daemon, "port", "list") == rpc
    assert ctl_json(daemon, "port", "list", "sw1") == daemon.rpc(
        "port.list", switch="sw1")
    assert [p["name"] for p in ctl_json(daemon, "port", "list",
                                        "sw1")["ports"]] == ["vm3"]
    _, rows = parse_table(run(daemon, "port", "list").stdout.splitlines(),
                          right=("VLAN",))
    assert [(r["NAME"], r["SWITCH"], r["TYPE"], r["IFNAME"], r["VLAN-MODE"],
             r["VLAN"], r["TRUNKS"]) for r in rows] == [
        ("vm1", "sw0", "tap", if1, "access", "10", "-"),
        ("vm2", "sw0", "tap", if2, "access", "30", "-"),
        ("vm3", "sw1", "tap", if3, "untagged", "-", "-")]
    assert [r["LINK"] for r in rows] == [p["link"] for p in rpc["ports"]]
    _, rows = parse_table(
        run(daemon, "port", "list", "sw1").stdout.splitlines(),
        right=("VLAN",))
    assert [r["NAME"] for r in rows] == ["vm3"]

    # stats: no traffic on these TAPs (their links are down).
    rpc = daemon.rpc("port.stats")
    assert ctl_json(daemon, "port", "stats") == rpc
    assert ctl_json(daemon, "port", "stats", "vm2") == daemon.rpc(
        "port.stats", name="vm2")
    _, rows = parse_table(run(daemon, "port", "stats").stdout.splitlines(),
                          right=("RX-PACKETS", "RX-BYTES", "TX-PACKETS",
                                 "TX-BYTES", "DROPS-TOTAL"))
    assert [r["PORT"] for r in rows] == ["vm1", "vm2", "vm3"]

    # del removes the port and its TAP.
    assert run(daemon, "port", "del", "vm1").stdout == ""
    assert ctl_json(daemon, "port", "del", "vm3") == {}
    assert [p["name"] for p in daemon.rpc("port.list")["ports"]] == ["vm2"]
    assert sh(["ip", "link", "show", if1], check=False).returncode != 0
    assert_one_line_error(run(daemon, "port", "get", "vm1", rc=1), 1)


def test_fdb_show_and_flush(daemon, topo):
    daemon.rpc("switch.add", name="sw0", mac_ageing=600)
    macs = {1: "02:00:00:00:00:01", 2: "02:00:00:00:00:02"}
    vm1, _ = add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1", mac=macs[1])
    add_vm(daemon, topo, "sw0", "vm2", "198.18.0.2", mac=macs[2])
    assert ping(vm1, "198.18.0.2", count=1)

    rpc = daemon.rpc("fdb.show", switch="sw0")
    shown = ctl_json(daemon, "fdb", "show", "sw0")
    # Ages may tick between the two calls; everything else is equal.
    assert without(shown, "entries") == without(rpc, "entries")
    assert ([without(e, "age") for e in shown["entries"]]
            == [without(e, "age") for e in rpc["entries"]])
    assert {(e["mac"], e["port"]) for e in rpc["entries"]} == {
        (macs[1], "vm1"), (macs[2], "vm2")}

    out = run(daemon, "fdb", "show", "sw0").stdout
    lines = out.splitlines()
    assert lines[-1] == "2 entries (max 65536)"
    _, rows = parse_table(lines[:-1], right=("VLAN", "AGE"))
    assert sorted((r["VLAN"], r["MAC"], r["PORT"]) for r in rows) == sorted(
        (str(e["vlan"]), e["mac"], e["port"]) for e in rpc["entries"])
    assert all(r["AGE"].isdigit() for r in rows)

    # flush one port's addresses, then all.
    assert run(daemon, "fdb", "flush", "sw0", "port=vm1").stdout == ""
    entries = daemon.rpc("fdb.show", switch="sw0")["entries"]
    assert [(e["mac"], e["port"]) for e in entries] == [(macs[2], "vm2")]
    assert ctl_json(daemon, "fdb", "flush", "sw0") == {}
    assert daemon.rpc("fdb.show", switch="sw0")["count"] == 0
    lines = run(daemon, "fdb", "show", "sw0").stdout.splitlines()
    assert lines == ["VLAN  MAC  PORT  AGE", "0 entries (max 65536)"]


def steady(status):
    """system.status without what changes by itself: uptime, load and the
    use of bounded tables."""
    return dict(without(status, "uptime"),
                workers=[without(w, "load") for w in status["workers"]],
                bounds=[without(b, "used") for b in status["bounds"]])


def test_status(daemon_factory):
    daemon = daemon_factory(workers=3)
    daemon.rpc("switch.add", name="sw0")
    rpc = daemon.rpc("system.status")
    shown = ctl_json(daemon, "status")
    assert steady(shown) == steady(rpc)
    assert shown["pid"] == daemon.proc.pid
    assert shown["uptime"] >= rpc["uptime"]

    out = run(daemon, "status").stdout
    assert_no_trailing_spaces(out)
    summary, rest = out.split("\n\n", 1)
    kv = parse_key_values(summary.splitlines())
    assert list(kv) == list(rpc)
    assert kv["workers"] == "3"
    assert kv["pid"] == str(daemon.proc.pid)
    assert kv["state-dir"] == str(daemon.state_dir)
    assert kv["socket"] == str(daemon.socket)
    assert (kv["switches"], kv["ports"]) == ("1", "0")
    lines = rest.splitlines()
    assert lines[0] == "workers:"
    # A column per member of the worker objects, named in capitals; all
    # are numbers, so right-aligned.
    workers, bounds = "\n".join(lines[1:]).split("\n\n")
    keys = [k.upper() for k in rpc["workers"][0]]
    headings, rows = parse_table(workers.splitlines(), right=keys)
    assert headings == keys and "WORKER" in keys
    assert [r["WORKER"] for r in rows] == ["0", "1", "2"]
    # Then every bounded table, numbers right-aligned.
    lines = bounds.splitlines()
    assert lines[0] == "bounds:"
    headings, rows = parse_table(lines[1:], right=["USED", "BOUND", "FULL"])
    assert headings == ["TABLE", "OWNER", "UNIT", "USED", "BOUND", "FULL"]
    assert [(r["TABLE"], r["OWNER"], r["BOUND"]) for r in rows] == [
        (b["table"], b["owner"], str(b["bound"])) for b in rpc["bounds"]]


def test_dp_show(daemon_factory, topo):
    daemon = daemon_factory(workers=2)
    daemon.rpc("switch.add", name="sw0")
    add_vm(daemon, topo, "sw0", "vm1")
    add_vm(daemon, topo, "sw0", "vm2")

    def steady_dp(dp):
        return dict(dp, workers=[
            dict(without(w, "load", "batches", "packets"),
                 rxqs=[without(q, "load", "pps") for q in w["rxqs"]])
            for w in dp["workers"]])

    rpc = daemon.rpc("dp.show")
    assert steady_dp(ctl_json(daemon, "dp", "show")) == steady_dp(rpc)
    assert rpc["busy-poll"] is False
    assert [w["worker"] for w in rpc["workers"]] == [0, 1]
    queues = [(w["worker"], q["port"], q["queue"])
              for w in rpc["workers"] for q in w["rxqs"]]
    assert {q[1] for q in queues} == {"vm1", "vm2"}

    out = run(daemon, "dp", "show").stdout
    assert_no_trailing_spaces(out)
    first, rest = out.split("\n", 1)
    workers, rxqs = rest.split("\n\n")
    assert first == "busy-poll: off"
    # dp show is young and gains columns: each must be aligned, one way
    # or the other.
    headings, rows = parse_table(workers.splitlines(), right="auto")
    assert headings[:5] == ["WORKER", "LOAD", "CPU", "QUEUES", "PACKETS"]
    assert [(r["WORKER"], r["QUEUES"]) for r in rows] == [
        (str(w["worker"]), str(w["queues"])) for w in rpc["workers"]]
    assert all(re.fullmatch(r"\d+%", r["LOAD"]) for r in rows)
    assert all(re.fullmatch(r"\d+%", r["CPU"]) for r in rows)
    headings, rows = parse_table(rxqs.splitlines(), right="auto")
    assert headings[:5] == ["WORKER", "PORT", "QUEUE", "LOAD", "PPS"]
    assert sorted((int(r["WORKER"]), r["PORT"], int(r["QUEUE"]))
                  for r in rows) == sorted(queues)


def test_show(daemon, topo):
    daemon.rpc("switch.add", name="sw0", mac_ageing=120)
    daemon.rpc("switch.add", name="sw1")
    if1, if2 = topo.ifname(), topo.ifname()
    daemon.rpc("port.add", switch="sw0", name="vm1", type="tap",
               ifname=if1, mac="02:00:00:00:00:01", vlan_mode="access",
               vlan=10)
    daemon.rpc("port.add", switch="sw1", name="vm2", type="tap",
               ifname=if2)
    up, _ = topo.veth()
    daemon.rpc("port.add", switch="sw0", name="up1", type="uplink",
               ifname=up, vlan_mode="trunk", trunks="10,20-30",
               native_vlan=1)

    assert ctl_json(daemon, "show") == {
        "switches": daemon.rpc("switch.list")["switches"],
        "ports": daemon.rpc("port.list")["ports"]}

    out = run(daemon, "show").stdout
    assert_no_trailing_spaces(out)
    ports = {p["name"]: p for p in daemon.rpc("port.list")["ports"]}
    assert out.splitlines() == [
        "Switch sw0",
        "    mac-ageing: 120",
        "    mac-table-size: 65536",
        "    ipv6-unknown-next-header: drop",
        "    min-bandwidth-mode: weight",
        "    metering-save-interval: 10",
        "    mac-count: 0",
        "    Port vm1",
        "        type: tap",
        f"        ifname: {if1}",
        "        mac: 02:00:00:00:00:01",
        "        vlan: access 10",
        f"        link: {ports['vm1']['link']}",
        "        netns: daemon",
        "    Port up1",
        "        type: uplink",
        f"        ifname: {up}",
        "        vlan: trunk 10,20-30, native 1",
        f"        link: {ports['up1']['link']}",
        "        netns: daemon",
        "Switch sw1",
        "    mac-ageing: 300",
        "    mac-table-size: 65536",
        "    ipv6-unknown-next-header: drop",
        "    min-bandwidth-mode: weight",
        "    metering-save-interval: 10",
        "    mac-count: 0",
        "    Port vm2",
        "        type: tap",
        f"        ifname: {if2}",
        "        vlan: untagged",
        f"        link: {ports['vm2']['link']}",
        "        netns: daemon",
    ]


def test_call(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    daemon.rpc("port.add", switch="sw0", name="vm1", type="tap",
               ifname=topo.ifname())
    # The result is JSON whatever --format says.
    for fmt in ("table", "json"):
        res = run(daemon, "--format", fmt, "call", "port.get",
                  '{"name": "vm1"}')
        assert json.loads(res.stdout) == daemon.rpc("port.get", name="vm1")
    # PARAMS defaults to {}.
    assert json.loads(run(daemon, "call", "switch.list").stdout) == \
        daemon.rpc("switch.list")
    # A change through call is a change.
    out = run(daemon, "call", "switch.set",
              '{"name": "sw0", "mac-ageing": 33}').stdout
    assert json.loads(out)["mac-ageing"] == 33
    assert daemon.rpc("switch.get", name="sw0")["mac-ageing"] == 33
    assert json.loads(run(daemon, "call", "port.del",
                          '{"name": "vm1"}').stdout) == {}
    assert daemon.rpc("port.list") == {"ports": []}


# ---- Table mode ----

def test_tables_are_aligned(daemon, topo):
    """Names of different widths, so that alignment is visible."""
    daemon.rpc("switch.add", name="sw0")
    daemon.rpc("switch.add", name="a-much-longer-switch-name",
               mac_ageing=5, mac_table_size=100)
    vm1, _ = add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1", vlan=10)
    add_vm(daemon, topo, "sw0", "vm-with-long-name", "198.18.0.2", vlan=10)
    add_vm(daemon, topo, "a-much-longer-switch-name", "p", "198.18.0.3")
    up, _ = topo.veth()
    run(daemon, "port", "add", "sw0", "up1", "type=uplink", f"ifname={up}",
        "vlan-mode=trunk", "trunks=10,20-30,100-4094", "native-vlan=1234")
    assert ping(vm1, "198.18.0.2", count=3)

    _, rows = parse_table(run(daemon, "switch", "list").stdout.splitlines(),
                          right=("MAC-AGEING", "MAC-TABLE-SIZE",
                                 "MAC-COUNT"))
    assert [r["PORTS"] for r in rows] == ["vm1,vm-with-long-name,up1", "p"]
    _, rows = parse_table(run(daemon, "port", "list").stdout.splitlines(),
                          right=("VLAN",))
    assert [(r["NAME"], r["VLAN"], r["TRUNKS"]) for r in rows] == [
        ("vm1", "10", "-"), ("vm-with-long-name", "10", "-"),
        ("up1", "1234", "10,20-30,100-4094"), ("p", "-", "-")]
    _, rows = parse_table(run(daemon, "port", "stats").stdout.splitlines(),
                          right=("RX-PACKETS", "RX-BYTES", "TX-PACKETS",
                                 "TX-BYTES", "DROPS-TOTAL"))
    assert [r["PORT"] for r in rows] == ["vm1", "vm-with-long-name", "up1",
                                         "p"]
    assert int(rows[0]["RX-PACKETS"]) >= 3 and int(rows[0]["RX-BYTES"]) > 100
    lines = run(daemon, "fdb", "show", "sw0").stdout.splitlines()
    _, rows = parse_table(lines[:-1], right=("VLAN", "AGE"))
    assert {r["PORT"] for r in rows} >= {"vm1", "vm-with-long-name"}

    # Every output of every read-only command: no trailing spaces.
    for args in (["switch", "get", "a-much-longer-switch-name"],
                 ["port", "get", "up1"], ["status"], ["show"],
                 ["port", "stats", "vm-with-long-name"], ["--help"],
                 ["port", "--help"], ["port", "set", "--help"]):
        out = run(daemon, *args).stdout
        assert out.strip()
        assert_no_trailing_spaces(out)


def test_trunk_uplink_settings_shown(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    up, _ = topo.veth()
    run(daemon, "port", "add", "sw0", "up1", "type=uplink", f"ifname={up}")
    # Uplinks are trunks unless told otherwise (FEATURES.md §1).
    assert daemon.rpc("port.get", name="up1")["vlan-mode"] == "trunk"

    res = run(daemon, "port", "set", "up1", "vlan-mode=trunk",
              "trunks=10,20-30", "native-vlan=1")
    assert res.stdout == "" and res.stderr == ""

    rpc = daemon.rpc("port.get", name="up1")
    assert (rpc["vlan-mode"], rpc["trunks"], rpc["native-vlan"]) == (
        "trunk", "10,20-30", 1)
    assert ctl_json(daemon, "port", "get", "up1") == rpc
    kv = parse_key_values(run(daemon, "port", "get",
                              "up1").stdout.splitlines())
    assert (kv["type"], kv["ifname"], kv["vlan-mode"], kv["trunks"],
            kv["native-vlan"], kv["switch"]) == (
        "uplink", up, "trunk", "10,20-30", "1", "sw0")
    assert "vlan" not in kv
    _, rows = parse_table(run(daemon, "port", "list").stdout.splitlines(),
                          right=("VLAN",))
    assert [(r["NAME"], r["VLAN-MODE"], r["VLAN"], r["TRUNKS"])
            for r in rows] == [("up1", "trunk", "1", "10,20-30")]

    # An empty trunk list means every VLAN: unset, null in JSON, and
    # shows as "all".
    run(daemon, "port", "set", "up1", "trunks=")
    assert daemon.rpc("port.get", name="up1")["trunks"] is None
    kv = parse_key_values(run(daemon, "port", "get",
                              "up1").stdout.splitlines())
    assert kv["trunks"] == "all"
    # The daemon saved it: it is in the configuration file.
    config = json.loads((daemon.state_dir / "config.json").read_text())
    saved = config["switches"][0]["ports"][0]
    assert (saved["name"], saved["settings"]["vlan-mode"],
            saved["settings"]["trunks"],
            saved["settings"]["native-vlan"]) == ("up1", "trunk", None, 1)


def test_port_stats_after_traffic(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    vm1, _ = add_vm(daemon, topo, "sw0", "vm1", "198.18.0.1", vlan=10)
    add_vm(daemon, topo, "sw0", "vm2", "198.18.0.2", vlan=10)
    # Alone on its VLAN: its broadcasts find no port to go to.
    vm3, _ = add_vm(daemon, topo, "sw0", "vm3", "198.18.0.3", vlan=30)
    assert ping(vm1, "198.18.0.2", count=3)
    assert not ping(vm3, "198.18.0.1", count=1)

    rpc = daemon.stats("vm1")
    out = run(daemon, "port", "stats", "vm1").stdout
    _, rows = parse_table(out.splitlines(),
                          right=("RX-PACKETS", "RX-BYTES", "TX-PACKETS",
                                 "TX-BYTES", "DROPS-TOTAL"))
    assert len(rows) == 1
    row = rows[0]
    assert row["PORT"] == "vm1"
    assert int(row["RX-PACKETS"]) >= 3 and int(row["TX-PACKETS"]) >= 3
    assert int(row["RX-BYTES"]) >= 3 * 98 and int(row["TX-BYTES"]) >= 3 * 98
    # Counters only grow: the table is no newer than the RPC after it.
    after = daemon.stats("vm1")
    for heading, key in (("RX-PACKETS", "rx-packets"), ("TX-PACKETS", "tx-packets"),
                         ("RX-BYTES", "rx-bytes"), ("TX-BYTES", "tx-bytes")):
        assert rpc[key] <= int(row[heading]) <= after[key], heading
    # Asked about one port: every drop reason, zeros included, in the
    # daemon's order.
    reasons = list(rpc["drops"])
    assert len(reasons) >= 5
    # (The shaper's queue depth follows, one note per direction.)
    drop_notes = [n for n in row["_notes"] if n.startswith("  drop ")]
    assert [n for n in row["_notes"] if n not in drop_notes] == [
        "  shaper queue out: 0 frames, 0 bytes",
        "  shaper queue in: 0 frames, 0 bytes"], row["_notes"]
    assert [re.match(r"^  drop ([a-z0-9-]+): (\d+)$", n).group(1)
            for n in drop_notes] == reasons, row["_notes"]
    assert int(row["DROPS-TOTAL"]) == sum(
        int(n.rsplit(" ", 1)[1]) for n in drop_notes)

    # In the list of all ports, only the reasons that counted show.
    stats3 = daemon.stats("vm3")
    assert stats3["drops"]["no-egress-port"] > 0
    out = run(daemon, "port", "stats").stdout
    _, rows = parse_table(out.splitlines(),
                          right=("RX-PACKETS", "RX-BYTES", "TX-PACKETS",
                                 "TX-BYTES", "DROPS-TOTAL"))
    by_port = {r["PORT"]: r for r in rows}
    assert list(by_port) == ["vm1", "vm2", "vm3"]
    notes3 = by_port["vm3"]["_notes"]
    assert any(n.startswith("  drop no-egress-port: ") for n in notes3)
    assert all(not n.endswith(": 0") for n in notes3), notes3
    assert int(by_port["vm3"]["DROPS-TOTAL"]) >= stats3["drops"]["no-egress-port"]
    if daemon.stats("vm1")["drops-total"] == 0:
        assert by_port["vm1"]["_notes"] == []


# ---- Exit status and errors ----

DAEMON_ERRORS = [
    ["switch", "add", "sw0"],
    ["switch", "add", "sw1", "mac-ageing=0"],
    ["switch", "add", "sw1", "colour=blue"],
    ["switch", "set", "sw0", "mac-ageing=-1"],
    ["switch", "del", "ghost"],
    ["switch", "get", "ghost"],
    ["port", "add", "ghost", "p1", "type=tap"],
    ["port", "add", "sw0", "vm1", "type=tap"],
    ["port", "add", "sw0", "p1", "type=wormhole"],
    ["port", "set", "vm1", "vlan-mode=access", "vlan=4095"],
    ["port", "set", "vm1", "trunks=10"],
    ["port", "set", "vm1", "vlan-mode=untagged", "vlan=5"],
    ["port", "set", "vm1", "vlan-mode=trunk", "trunks=10-5"],
    ["port", "set", "vm1", "bogus-key=1"],
    ["port", "set", "ghost", "vlan-mode=untagged"],
    ["port", "get", "ghost"],
    ["port", "del", "ghost"],
    ["port", "list", "ghost"],
    ["port", "stats", "ghost"],
    ["fdb", "show", "ghost"],
    ["fdb", "flush", "sw0", "port=ghost"],
    ["call", "no.such-method"],
    ["call", "port.get", '{"name": 5}'],
]


def test_daemon_errors_exit_1_and_change_nothing(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    daemon.rpc("port.add", switch="sw0", name="vm1", type="tap",
               ifname=topo.ifname(), vlan_mode="access", vlan=10)
    before = snapshot(daemon)
    for args in DAEMON_ERRORS:
        for fmt in ("table", "json"):
            res = run(daemon, "--format", fmt, *args, rc=1)
            assert_one_line_error(res, 1)
            assert snapshot(daemon) == before, args
    # The daemon's own message is what is printed.
    res = run(daemon, "port", "get", "ghost", rc=1)
    assert res.stderr == "vswitch-ctl: no port named 'ghost'\n"


USAGE_ERRORS = [
    ["frobnicate"],
    ["port"],
    ["port", "frob", "vm1"],
    ["port", "set", "vm1", "vlan=abc"],
    ["port", "set", "vm1", "vlan-mode=access", "vlan="],
    ["switch", "set", "sw0", "mac-ageing=1.5"],
    ["switch", "add", "sw9", "mac-table-size=99999999999999999999"],
    ["port", "set", "vm1", "vlan-mode"],
    ["port", "set", "vm1", "=x"],
    ["port", "set", "vm1", "vlan=1", "vlan=2"],
    ["port", "set", "vm1"],
    ["switch", "set", "sw0"],
    ["port", "add", "sw0", "p1"],
    ["port", "add", "sw0", "type=tap"],
    ["port", "get"],
    ["switch", "del", "sw0", "sw1"],
    ["status", "extra"],
    ["call"],
    ["call", "port.get", "{not json"],
    ["--format", "xml", "status"],
    ["--bogus", "status"],
    ["--timeout", "soon", "status"],
    ["status", "--socket"],
]


def test_usage_errors_exit_2_and_send_nothing(daemon, topo, tmp_path):
    daemon.rpc("switch.add", name="sw0")
    daemon.rpc("port.add", switch="sw0", name="vm1", type="tap",
               ifname=topo.ifname(), vlan_mode="access", vlan=10)
    before = snapshot(daemon)
    nowhere = tmp_path / "no-daemon-here.sock"
    for args in USAGE_ERRORS:
        res = run(daemon, *args, rc=2)
        line = assert_one_line_error(res, 2)
        assert snapshot(daemon) == before, args
        # Refused before connecting: no daemon needed to say so.
        res = run(daemon, "--socket", nowhere, *args, rc=2, sock=False)
        assert res.stderr.splitlines() == [line], args
    # The message names what is wrong.
    res = run(daemon, "port", "set", "vm1", "vlan=abc", rc=2)
    assert res.stderr == ("vswitch-ctl: vlan: expected an integer, got "
                          "'abc'\n")
    res = run(daemon, "port", "set", "vm1", "vlan-mode", rc=2)
    assert "'vlan-mode'" in res.stderr and "key=value" in res.stderr
    res = run(daemon, "frobnicate", rc=2)
    assert "'frobnicate'" in res.stderr


def test_socket_option_and_environment(daemon, tmp_path):
    daemon.rpc("switch.add", name="sw0")
    nowhere = str(tmp_path / "nowhere.sock")
    env = dict(os.environ)

    # --socket, before or after the command.
    assert "sw0" in run(daemon, "switch", "list", "--socket", daemon.socket,
                        sock=False).stdout
    # $VSWITCH_SOCKET when --socket is not given...
    env["VSWITCH_SOCKET"] = str(daemon.socket)
    res = run(daemon, "--format", "json", "status", env=env, sock=False)
    assert json.loads(res.stdout)["socket"] == str(daemon.socket)
    # ...and --socket wins over it.
    env["VSWITCH_SOCKET"] = nowhere
    assert "sw0" in run(daemon, "switch", "list", env=env).stdout
    res = run(daemon, "switch", "list", env=env, sock=False, rc=1)
    line = assert_one_line_error(res, 1)
    assert line == (f"vswitch-ctl: cannot connect to {nowhere}: No such file "
                    "or directory (is vswitchd running?)")

    # A socket nobody listens on.
    stale = tmp_path / "stale.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(stale))
    s.close()
    res = run(daemon, "--socket", stale, "status", rc=1, sock=False)
    line = assert_one_line_error(res, 1)
    assert line.startswith(f"vswitch-ctl: cannot connect to {stale}: ")
    assert "(is vswitchd running?)" in line

    # An empty $VSWITCH_SOCKET means the default.
    default = "/var/lib/vswitch/vswitchd.sock"
    if not os.path.exists(default):
        env["VSWITCH_SOCKET"] = ""
        res = run(daemon, "status", env=env, sock=False, rc=1)
        assert f"cannot connect to {default}:" in assert_one_line_error(res,
                                                                        1)


def test_unresponsive_or_confused_daemon(tmp_path):
    """--timeout bounds the wait; a reply that is not JSON-RPC is an
    error, not a crash."""
    silent = tmp_path / "silent.sock"
    talker = tmp_path / "talker.sock"
    with socket.socket(socket.AF_UNIX) as quiet, \
            socket.socket(socket.AF_UNIX) as chatty:
        quiet.bind(str(silent))
        quiet.listen(4)  # never accepts: the request waits forever
        chatty.bind(str(talker))
        chatty.listen(4)

        def answer():
            conn, _ = chatty.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"hello, this is not JSON\n")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        res = sh([str(VSWITCH_CTL), "--socket", str(talker), "status"],
                 check=False, timeout=30)
        thread.join(timeout=10)
        line = assert_one_line_error(res, 1)
        assert line == ("vswitch-ctl: system.status: reply from vswitchd "
                        "is not a JSON-RPC response")

        res = sh([str(VSWITCH_CTL), "--socket", str(silent), "--timeout",
                  "0.5", "switch", "list"], check=False, timeout=30)
        line = assert_one_line_error(res, 1)
        assert line == ("vswitch-ctl: switch.list: no reply from vswitchd "
                        "within 0.5 s (see --timeout)")


# ---- Help ----

def _help_text(args):
    res = sh([str(VSWITCH_CTL), "--socket", "/nonexistent/vswitchd.sock",
              *args], check=False)
    assert res.returncode == 0, (args, res.stderr)
    assert res.stderr == ""
    assert res.stdout.strip(), args
    assert_no_trailing_spaces(res.stdout)
    return res.stdout


def listed_commands(text):
    """The commands the general help 'text' lists, as tuples of words."""
    listed = text.split("\nCommands:\n", 1)[1].split("\n\n", 1)[0]
    commands = []
    for line in listed.splitlines():
        assert line.startswith("  ") and line[2] != " ", line
        name, summary = re.split(r"  +", line.strip(), maxsplit=1)
        assert summary, line
        commands.append(tuple(name.split()))
    return commands


def test_general_help():
    text = _help_text(["--help"])
    assert text.startswith("Usage: vswitch-ctl")
    # Every command this file knows is listed, in this order.
    listed = listed_commands(text)
    assert [c for c in listed if c in COMMANDS] == COMMANDS
    for option in ("--socket", "--format", "--timeout", "--help",
                   "--version"):
        assert option in text
    assert _help_text(["-h"]) == text
    assert _help_text(["help"]) == text
    version = _help_text(["--version"])
    assert re.fullmatch(r"vswitch-ctl \(vswitch\) \d+\.\d+\.\d+\n", version)


@pytest.mark.parametrize("noun", NOUNS)
def test_noun_help(noun):
    text = _help_text([noun, "--help"])
    commands = listed_commands(_help_text(["--help"]))
    assert f"vswitch-ctl [OPTIONS] {noun} COMMAND" in text
    for words in commands:
        if words[0] == noun:
            assert f"  {noun} {words[1]}" in text, words
    others = [w for w in commands if len(w) == 2 and w[0] != noun]
    assert all(f"  {w[0]} {w[1]}" not in text for w in others)
    assert _help_text(["help", noun]) == text
    assert _help_text(["--help", noun]) == text


def test_command_help():
    """Every command the general help lists, including any this file does
    not know yet."""
    commands = listed_commands(_help_text(["--help"]))
    assert len(commands) >= len(COMMANDS)
    for words in commands:
        text = _help_text([*words, "--help"])
        name = " ".join(words)
        assert text.startswith(f"Usage: vswitch-ctl {name}"), text
        assert len(text.splitlines()) >= 3, name
        assert _help_text(["help", *words]) == text, name
        assert _help_text(["-h", *words]) == text, name
        # Help wins over missing or extra arguments.
        assert _help_text([*words, "x", "y", "z", "--help"]) == text, name
        if words in NO_METHOD:
            assert "JSON-RPC method" not in text, name
        else:
            method = {("status",): "system.status",
                      ("methods",): "system.methods",
                      ("stop",): "system.stop",
                      ("capture",): "capture.start",
                      ("captures",): "capture.list"}.get(
                          words, ".".join(words))
            assert f"\nJSON-RPC method: {method}\n" in text, name


def test_help_of_unknown_command_is_a_usage_error():
    for args in (["help", "frobnicate"], ["port", "frob", "--help"]):
        res = sh([str(VSWITCH_CTL), *args], check=False)
        assert_one_line_error(res, 2)
