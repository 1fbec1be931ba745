"""Management-plane abuse against the real daemon's JSON-RPC socket
(ROBUSTNESS.md, "Management plane"): oversized, malformed, slow, pipelined
and never-reading clients, many connections, invalid parameters and a
client whose uid is not allowed.  Each case checks that the daemon
answers as rpc-server.h promises, keeps serving other clients, and keeps
forwarding between VMs."""

import json
import os
import random
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import RpcError, add_vm, ping, wait_for

MAX_REQUEST = 1024 * 1024  # rpc-server.c's default cap
MAX_OUTPUT = 16 * 1024 * 1024
MAX_CLIENTS = 128

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
NOT_FOUND = -32001
SYSTEM_ERROR = -32003
PERMISSION = -32004
TOO_LARGE = -32005


class Client:
    """A raw connection to the daemon's socket."""

    def __init__(self, path, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def call(self, method, params=None, id=1):
        req = {"jsonrpc": "2.0", "id": id, "method": method}
        if params is not None:
            req["params"] = params
        self.send(json.dumps(req).encode() + b"\n")
        return self.reply()

    def line(self):
        """The next reply line, or None at EOF."""
        while b"\n" not in self.buf:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def reply(self):
        line = self.line()
        assert line is not None, "connection closed without a reply"
        return json.loads(line)

    def pending(self, wait=0.3):
        """Whatever arrives within 'wait' seconds, without blocking
        longer; used to show that nothing (more) was answered."""
        self.sock.settimeout(wait)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self.buf += chunk
        except TimeoutError:
            pass
        finally:
            self.sock.settimeout(30)
        return self.buf


def error_of(reply):
    assert "error" in reply, reply
    assert "result" not in reply, reply
    err = reply["error"]
    assert isinstance(err["message"], str) and err["message"], reply
    assert "\n" not in err["message"]
    return err["code"]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def status_ok(daemon):
    return daemon.rpc("system.status")["pid"] == daemon.proc.pid


@pytest.fixture
def two_vms(daemon, topo):
    """A switch with two VMs that ping each other: the forwarding plane
    the abuse must not disturb.  Returns (ns1, ns2)."""
    daemon.rpc("switch.add", name="sw0")
    vm1, _ = add_vm(daemon, topo, "sw0", "vm1", "192.0.2.1")
    vm2, _ = add_vm(daemon, topo, "sw0", "vm2", "192.0.2.2")
    assert ping(vm1, "192.0.2.2", count=1)
    return vm1, vm2


def test_oversized_request_refused_at_cap(daemon, two_vms):
    vm1, _ = two_vms
    rss_start = rss_kib(daemon.proc.pid)
    big = Client(daemon.socket)
    head = b'{"jsonrpc":"2.0","id":1,"method":"system.status","params":{"x":"'
    try:
        # Just under the cap and no newline yet: the connection waits for
        # the rest while everyone else is served.
        big.send(head + b"a" * (MAX_REQUEST - 4096 - len(head)))
        assert status_ok(daemon)
        assert ping(vm1, "192.0.2.2", count=2)
        other = Client(daemon.socket)
        assert other.call("port.list")["result"]["ports"]
        other.close()

        # Now the rest of 64 MiB, from another thread, while this one reads
        # the answer.
        total = 64 << 20
        chunk = b"a" * (1 << 20)
        sent = {"bytes": MAX_REQUEST - 4096, "error": None}

        def push():
            try:
                while sent["bytes"] < total:
                    sent["bytes"] += big.sock.send(chunk)
            except OSError as e:
                sent["error"] = e

        pusher = threading.Thread(target=push)
        pusher.start()
        reply = big.reply()
        pusher.join(timeout=60)
        assert not pusher.is_alive()
        assert error_of(reply) == TOO_LARGE, reply
        assert reply["id"] is None
        assert str(MAX_REQUEST) in reply["error"]["message"]
        # The daemon hung up: the sender was cut off long before 64 MiB.
        assert isinstance(sent["error"], (BrokenPipeError,
                                          ConnectionResetError)), sent
        # ...and closed the connection (with unread input, a unix socket
        # reports that as a reset after the last queued byte).
        try:
            assert big.line() is None
        except ConnectionResetError:
            pass
        rss_end = rss_kib(daemon.proc.pid)
        print(f"\n64 MiB request: kernel took {sent['bytes']} bytes before "
              f"the daemon hung up; VmRSS {rss_start} -> {rss_end} KiB")
        assert sent["bytes"] < 4 * MAX_REQUEST
        assert rss_end < 200 * 1024
    finally:
        big.close()
    assert status_ok(daemon)
    assert ping(vm1, "192.0.2.2", count=2)
    assert "sent a request over" in daemon.log.read_text()


def test_request_size_boundary(daemon):
    """A request of exactly the cap is served; one byte more is not."""
    head = json.dumps({"jsonrpc": "2.0", "id": 9, "method": "switch.add",
                       "params": {"name": "edge"}}).encode()
    at_cap = head + b" " * (MAX_REQUEST - len(head))
    c = Client(daemon.socket)
    try:
        c.send(at_cap + b"\n")
        reply = c.reply()
        assert reply["id"] == 9 and reply["result"]["name"] == "edge", reply
    finally:
        c.close()
    c = Client(daemon.socket)
    try:
        c.send(at_cap + b" \n")
        reply = c.reply()
        assert error_of(reply) == TOO_LARGE, reply
        try:
            assert c.line() is None
        except ConnectionResetError:
            pass
    finally:
        c.close()
    assert [s["name"] for s in daemon.rpc("switch.list")["switches"]] == [
        "edge"]


def _still_serves(client):
    reply = client.call("system.status", id="after")
    assert reply["id"] == "after" and "result" in reply, reply


def test_nested_json(daemon):
    for text in (b"[" * 100_000,
                 b'{"a":' * 100_000,
                 b'{"jsonrpc":"2.0","id":7,"method":"switch.add","params":'
                 b'{"name":' + b"[" * 50_000 + b"]" * 50_000 + b"}}"):
        c = Client(daemon.socket)
        try:
            c.send(text + b"\n")
            reply = c.reply()
            assert error_of(reply) == PARSE_ERROR, reply
            assert reply["id"] is None
            _still_serves(c)
        finally:
            c.close()
    # Nesting that jansson accepts reaches the method, which refuses it.
    c = Client(daemon.socket)
    try:
        deep = json.loads("[" * 500 + "]" * 500)
        reply = c.call("switch.add", {"name": deep}, id=8)
        assert error_of(reply) == INVALID_PARAMS and reply["id"] == 8
    finally:
        c.close()
    assert daemon.rpc("switch.list")["switches"] == []


INVALID_UTF8 = [
    b'{"jsonrpc":"2.0","id":1,"method":"system.\xff\xfe"}',
    b'{"jsonrpc":"2.0","id":1,"method":"switch.add",'
    b'"params":{"name":"\xc0\xaf"}}',  # overlong '/'
    b'{"jsonrpc":"2.0","id":1,"method":"switch.add",'
    b'"params":{"name":"\xed\xa0\x80"}}',  # surrogate
    b'{"jsonrpc":"2.0","id":1,"method":"switch.add",'
    b'"params":{"name":"ab\xe2\x82"}}',  # cut sequence
    b'{"jsonrpc":"2.0","id":"\x80","method":"system.status"}',
    b'{"jsonrpc":"2.0","id":1,"method":"system.status\x00x"}',
    b'{"jsonrpc":"2.0","id":1,"method":"switch.add",'
    b'"params":{"name":"a\\u0000b"}}',  # escaped NUL: valid JSON
]


def test_invalid_utf8_and_nul(daemon):
    c = Client(daemon.socket)
    try:
        for text in INVALID_UTF8:
            c.send(text + b"\n")
            reply = c.reply()
            code = error_of(reply)
            if b"\\u0000" in text:
                # jansson refuses NUL in strings unless asked: either way
                # an error, and no switch named "a".
                assert code in (PARSE_ERROR, INVALID_PARAMS), reply
            else:
                assert code == PARSE_ERROR, (text, reply)
        _still_serves(c)
    finally:
        c.close()
    assert daemon.rpc("switch.list")["switches"] == []


def test_random_bytes(daemon):
    rng = random.Random(0xB17E5)
    for round_ in range(20):
        data = rng.randbytes(rng.randint(1, 64 * 1024))
        if round_ % 2:
            data = data.replace(b"\n", b" ")
        data += b"\n"
        lines = data.split(b"\n")[:-1]
        expected = sum(1 for ln in lines
                       if not all(ch in b" \t\r" for ch in ln))
        c = Client(daemon.socket)
        try:
            c.send(data)
            for _ in range(expected):
                reply = c.reply()
                assert error_of(reply) in (PARSE_ERROR, INVALID_REQUEST)
            _still_serves(c)
            assert c.pending(0.05) == b""
        finally:
            c.close()
    assert daemon.rpc("switch.list")["switches"] == []


def test_request_in_one_byte_writes(daemon):
    c = Client(daemon.socket)
    try:
        req = json.dumps({"jsonrpc": "2.0", "id": 42, "method": "switch.add",
                          "params": {"name": "slow"}}).encode() + b"\n"
        for i in range(len(req)):
            c.send(req[i:i + 1])
            time.sleep(0.002)
        reply = c.reply()
        assert reply["id"] == 42 and reply["result"]["name"] == "slow"
        _still_serves(c)
    finally:
        c.close()
    assert [s["name"] for s in daemon.rpc("switch.list")["switches"]] == [
        "slow"]


def test_pipelined_requests_answered_in_order(daemon, two_vms):
    c = Client(daemon.socket)
    calls = []
    for i in range(1, 101):
        kind = i % 5
        if kind == 0:
            calls.append(("system.status", {}, None))
        elif kind == 1:
            calls.append(("port.stats", {"name": "vm1"}, None))
        elif kind == 2:
            calls.append(("no.such-method", {}, METHOD_NOT_FOUND))
        elif kind == 3:
            calls.append(("port.get", {"name": "ghost"}, NOT_FOUND))
        else:
            calls.append(("switch.set", {"name": "sw0", "mac-ageing": i},
                          None))
    data = b"".join(json.dumps({"jsonrpc": "2.0", "id": i, "method": m,
                                "params": p}).encode() + b"\n"
                    for i, (m, p, _) in enumerate(calls, 1))
    try:
        c.send(data)
        for i, (method, _, code) in enumerate(calls, 1):
            reply = c.reply()
            assert reply["id"] == i, (i, reply)
            if code is None:
                assert "result" in reply, (method, reply)
            else:
                assert error_of(reply) == code, (method, reply)
        assert c.pending(0.05) == b""
    finally:
        c.close()
    # The switch.set calls took effect in order: the last one wins.
    assert daemon.rpc("switch.get", name="sw0")["mac-ageing"] == 99


def test_batch_and_notifications(daemon):
    c = Client(daemon.socket)
    try:
        c.send(b'[{"jsonrpc":"2.0","id":1,"method":"system.status"},'
               b'{"jsonrpc":"2.0","id":2,"method":"system.status"}]\n')
        reply = c.reply()
        assert error_of(reply) == INVALID_REQUEST and reply["id"] is None
        c.send(b"[]\n")
        assert error_of(c.reply()) == INVALID_REQUEST

        # Notifications are executed and never answered, even when they
        # fail; the next request's answer is the next line.
        c.send(b'{"jsonrpc":"2.0","method":"switch.add",'
               b'"params":{"name":"quiet"}}\n'
               b'{"jsonrpc":"2.0","method":"no.such-method"}\n'
               b'{"jsonrpc":"2.0","method":"switch.add",'
               b'"params":{"name":"bad/name"}}\n'
               b'{"jsonrpc":"2.0","id":5,"method":"switch.get",'
               b'"params":{"name":"quiet"}}\n')
        reply = c.reply()
        assert reply["id"] == 5 and reply["result"]["name"] == "quiet"
        assert c.pending(0.2) == b""
        # An explicit null id is a request, not a notification.
        c.send(b'{"jsonrpc":"2.0","id":null,"method":"switch.get",'
               b'"params":{"name":"quiet"}}\n')
        reply = c.reply()
        assert reply["id"] is None and reply["result"]["name"] == "quiet"
    finally:
        c.close()
    assert [s["name"] for s in daemon.rpc("switch.list")["switches"]] == [
        "quiet"]


def test_client_that_never_reads(daemon, two_vms):
    vm1, _ = two_vms
    hog = socket.socket(socket.AF_UNIX)
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    hog.settimeout(30)
    hog.connect(str(daemon.socket))
    req = b'{"jsonrpc":"2.0","id":1,"method":"port.list"}\n'
    probe = Client(daemon.socket)
    probe.send(req)
    reply_len = len(probe.line()) + 1
    probe.close()
    try:
        # About a quarter of the output cap queued, unread.
        n1 = MAX_OUTPUT // 4 // reply_len
        hog.sendall(req * n1)
        wait_for(lambda: status_ok(daemon))
        assert ping(vm1, "192.0.2.2", count=3)
        other = Client(daemon.socket)
        for i in range(20):
            assert other.call("port.stats", id=i)["id"] == i
        other.close()

        # Keep going: the daemon cuts the client off once its pending
        # output passes the cap, instead of buffering without bound.
        sent = n1
        error = None
        limit = 4 * MAX_OUTPUT // reply_len
        try:
            while sent < limit:
                hog.sendall(req * 100)
                sent += 100
        except (BrokenPipeError, ConnectionResetError) as e:
            error = e
        print(f"\nnever-reading client: cut off after {sent} requests "
              f"(~{sent * reply_len >> 20} MiB of replies); "
              f"VmRSS {rss_kib(daemon.proc.pid)} KiB")
        assert error is not None, f"still connected after {sent} requests"
        # Cut off for passing the cap, not before: the requests it sent
        # (at most 100 of which went unanswered) asked for more than the
        # cap in replies.
        assert (sent + 100) * reply_len > MAX_OUTPUT
    finally:
        hog.close()
    assert status_ok(daemon)
    assert ping(vm1, "192.0.2.2", count=2)
    assert "does not read its replies" in daemon.log.read_text()


def test_many_busy_clients_do_not_stop_forwarding(daemon, two_vms):
    vm1, _ = two_vms
    n_conns = 200
    conns = [Client(daemon.socket) for _ in range(n_conns)]
    stop = threading.Event()
    counts = {"answered": 0, "refused": set(), "served": set(),
              "error": None}

    def load():
        sel = selectors.DefaultSelector()
        req = b"".join(
            json.dumps({"jsonrpc": "2.0", "id": k, "method": m}).encode()
            + b"\n" for k, m in enumerate(["system.status", "port.stats",
                                           "port.list", "switch.list"]))
        outstanding = [0] * n_conns
        try:
            for i, c in enumerate(conns):
                c.sock.setblocking(False)
                sel.register(c.sock, selectors.EVENT_READ, i)
            live = set(range(n_conns))
            while not stop.is_set() and live:
                # A new batch only once the last one is answered, so no
                # client falls behind on reading.
                for i in live:
                    if not outstanding[i] and i not in counts["refused"]:
                        try:
                            conns[i].sock.sendall(req)
                            outstanding[i] = 4
                        except OSError:
                            pass
                for key, _ in sel.select(timeout=0.05):
                    i = key.data
                    c = conns[i]
                    try:
                        chunk = c.sock.recv(1 << 20)
                    except BlockingIOError:
                        continue
                    except ConnectionResetError:
                        chunk = b""
                    c.buf += chunk
                    while b"\n" in c.buf:
                        line, c.buf = c.buf.split(b"\n", 1)
                        reply = json.loads(line)
                        if "error" in reply:
                            assert reply["error"]["code"] == SYSTEM_ERROR
                            assert "too many connections" in \
                                reply["error"]["message"]
                            counts["refused"].add(i)
                        else:
                            counts["answered"] += 1
                            counts["served"].add(i)
                            outstanding[i] -= 1
                    if not chunk:
                        sel.unregister(c.sock)
                        live.discard(i)
        except Exception as e:  # reported by the main thread
            counts["error"] = e

    worker = threading.Thread(target=load)
    worker.start()
    try:
        wait_for(lambda: counts["answered"] > 1000 or counts["error"],
                 timeout=60)
        # Forwarding does not depend on the control thread.
        assert ping(vm1, "192.0.2.2", count=5)
        # The connection cap holds and a newcomer is told so at once.
        with pytest.raises(RpcError) as e:
            daemon.rpc("system.status")
        assert e.value.code == SYSTEM_ERROR
        before = counts["answered"]
        wait_for(lambda: counts["answered"] > before + 1000, timeout=60)
    finally:
        stop.set()
        worker.join(timeout=60)
        for c in conns:
            c.close()
    assert counts["error"] is None, counts["error"]
    print(f"\n{n_conns} busy clients: {len(counts['served'])} served, "
          f"{len(counts['refused'])} refused, {counts['answered']} answers")
    assert not counts["served"] & counts["refused"]
    assert len(counts["served"]) <= MAX_CLIENTS
    assert len(counts["served"]) + len(counts["refused"]) == n_conns
    assert len(counts["served"]) >= MAX_CLIENTS - 2
    wait_for(lambda: _serves(daemon), timeout=20)
    assert ping(vm1, "192.0.2.2", count=2)


def _serves(daemon):
    try:
        return status_ok(daemon)
    except RpcError:
        return False


BIG = 2 ** 63

# (method, params, acceptable codes): every one must fail and change
# nothing.  Numbers beyond 64 bits cannot even be parsed by jansson, so
# those may be answered as parse errors.
INVALID_CALLS = [
    ("switch.add", {"name": "n1", "mac-ageing": 0}, {INVALID_PARAMS}),
    ("switch.add", {"name": "n1", "mac-ageing": -1}, {INVALID_PARAMS}),
    ("switch.add", {"name": "n1", "mac-ageing": -BIG}, {INVALID_PARAMS}),
    ("switch.add", {"name": "n1", "mac-ageing": BIG - 1}, {INVALID_PARAMS}),
    ("switch.add", {"name": "n1", "mac-ageing": BIG},
     {INVALID_PARAMS, PARSE_ERROR}),
    ("switch.add", {"name": "n1", "mac-ageing": 2 ** 64},
     {INVALID_PARAMS, PARSE_ERROR}),
    ("switch.add", {"name": "n1", "mac-ageing": 1.5}, {INVALID_PARAMS}),
    ("switch.add", {"name": "n1", "mac-ageing": 1e300}, {INVALID_PARAMS}),
    ("switch.add", {"name": "n1", "mac-ageing": "300"}, {INVALID_PARAMS}),
    ("switch.add", {"name": "n1", "mac-ageing": True}, {INVALID_PARAMS}),
    ("switch.add", {"name": "n1", "mac-ageing": None}, {INVALID_PARAMS}),
    ("switch.add", {"name": "n1", "mac-table-size": 0}, {INVALID_PARAMS}),
    ("switch.add", {"name": "n1", "mac-table-size": -4096},
     {INVALID_PARAMS}),
    ("switch.add", {"name": "n1", "mac-table-size": BIG},
     {INVALID_PARAMS, PARSE_ERROR}),
    ("switch.add", {"name": "n1", "mac-table-size": (1 << 22) + 1},
     {INVALID_PARAMS}),
    ("switch.add", {"name": "", "mac-ageing": 10}, {INVALID_PARAMS}),
    ("switch.add", {"name": "x" * 5000}, {INVALID_PARAMS}),
    ("switch.add", {"name": 5}, {INVALID_PARAMS}),
    ("switch.add", {}, {INVALID_PARAMS}),
    # A valid setting next to an invalid one: neither is applied.
    ("switch.set", {"name": "sw0", "mac-ageing": 10, "mac-table-size": 0},
     {INVALID_PARAMS}),
    ("switch.set", {"name": "sw0", "mac-ageing": 10, "mac-table-size": BIG},
     {INVALID_PARAMS, PARSE_ERROR}),
    ("switch.set", {"name": "sw0", "mac-ageing": -300}, {INVALID_PARAMS}),
    ("switch.set", {"name": "sw0", "mac-ageing": 0}, {INVALID_PARAMS}),
    ("switch.set", {"name": "ghost", "mac-ageing": 10}, {NOT_FOUND}),
    ("switch.del", {"name": "ghost"}, {NOT_FOUND}),
    ("port.set", {"name": "vm1", "mac-limit": -1}, {INVALID_PARAMS}),
    ("port.set", {"name": "vm1", "mac-limit": BIG},
     {INVALID_PARAMS, PARSE_ERROR}),
    ("port.set", {"name": "vm1", "mac-limit": BIG - 1}, {INVALID_PARAMS}),
    ("port.set", {"name": "vm1", "mac-limit": 5, "vlan": 0},
     {INVALID_PARAMS}),
    ("port.set", {"name": "vm1", "vlan": -10}, {INVALID_PARAMS}),
    ("port.set", {"name": "vm1", "vlan": BIG},
     {INVALID_PARAMS, PARSE_ERROR}),
    ("port.set", {"name": "vm1", "vlan": "10"}, {INVALID_PARAMS}),
    # Contradictory VLAN modes.
    ("port.set", {"name": "vm1", "vlan-mode": "untagged", "vlan": 10},
     {INVALID_PARAMS}),
    ("port.set", {"name": "vm1", "vlan-mode": "access", "trunks": "10"},
     {INVALID_PARAMS}),
    ("port.set", {"name": "vm1", "vlan-mode": "access", "native-vlan": 10},
     {INVALID_PARAMS}),
    ("port.set", {"name": "vm1", "vlan-mode": "trunk", "vlan": 10},
     {INVALID_PARAMS}),
    ("port.set", {"name": "vm1", "vlan-mode": "trunk", "trunks": "10",
                  "vlan": 20}, {INVALID_PARAMS}),
    ("port.set", {"name": "vm2", "vlan-mode": "access"}, {INVALID_PARAMS}),
    ("port.set", {"name": "vm2", "trunks": "1-4094"}, {INVALID_PARAMS}),
    ("port.set", {"name": "vm1", "vlan-mode": "trunk", "trunks": "0-10"},
     {INVALID_PARAMS}),
    ("port.set", {"name": "vm1", "vlan-mode": "trunk", "trunks": "10-4095"},
     {INVALID_PARAMS}),
    ("port.set", {"name": "vm1", "vlan-mode": "trunk",
                  "native-vlan": -1}, {INVALID_PARAMS}),
    ("port.set", {"name": "vm1", "vlan-mode": ["access"]}, {INVALID_PARAMS}),
    # Unknown ports and switches.
    ("port.set", {"name": "ghost", "mac-limit": 5}, {NOT_FOUND}),
    ("port.get", {"name": "ghost"}, {NOT_FOUND}),
    ("port.del", {"name": "ghost"}, {NOT_FOUND}),
    ("port.stats", {"name": "ghost"}, {NOT_FOUND}),
    ("port.list", {"switch": "ghost"}, {NOT_FOUND}),
    ("port.add", {"switch": "ghost", "name": "p9", "type": "tap"},
     {NOT_FOUND}),
    ("port.add", {"switch": "sw0", "name": "p9", "type": "tap",
                  "vlan-mode": "access"}, {INVALID_PARAMS}),
    ("port.add", {"switch": "sw0", "name": "p9", "type": "tap",
                  "vlan-mode": "untagged", "vlan": 3}, {INVALID_PARAMS}),
    ("port.add", {"switch": "sw0", "name": "p9", "type": "tap",
                  "mac-limit": -1}, {INVALID_PARAMS}),
    ("fdb.show", {"switch": "ghost"}, {NOT_FOUND}),
    ("fdb.flush", {"switch": "sw0", "port": "ghost"}, {NOT_FOUND}),
    ("fdb.flush", {"switch": "sw1", "port": "vm1"}, {INVALID_PARAMS}),
    ("system.status", {"verbose": True}, {INVALID_PARAMS}),
]


def _snapshot(daemon):
    ports = daemon.rpc("port.list")["ports"]
    return (daemon.rpc("switch.list"), ports,
            [daemon.rpc("port.get", name=p["name"]) for p in ports],
            (daemon.state_dir / "config.json").read_text())


def test_invalid_parameters_change_nothing(daemon, topo):
    daemon.rpc("switch.add", name="sw0", mac_ageing=120)
    daemon.rpc("switch.add", name="sw1")
    add_vm(daemon, topo, "sw0", "vm1", "192.0.2.1", vlan=10)
    add_vm(daemon, topo, "sw0", "vm2", "192.0.2.2")
    daemon.rpc("port.set", name="vm1", mac_limit=50)
    before = _snapshot(daemon)
    c = Client(daemon.socket)
    try:
        for i, (method, params, codes) in enumerate(INVALID_CALLS):
            c.send(json.dumps({"jsonrpc": "2.0", "id": i, "method": method,
                               "params": params}).encode() + b"\n")
            reply = c.reply()
            code = error_of(reply)
            assert code in codes, (method, params, reply)
            if code != PARSE_ERROR:
                assert reply["id"] == i
            assert _snapshot(daemon) == before, (method, params)
    finally:
        c.close()
    assert daemon.rpc("switch.get", name="sw0")["mac-ageing"] == 120


UNPRIVILEGED_CLIENT = r"""
import json, os, socket, sys
os.setgroups([])
os.setgid(65534)
os.setuid(65534)
assert os.getuid() == 65534 and os.geteuid() == 65534
out = []
for method, params in (("system.status", {}),
                       ("switch.add", {"name": "intruder"}),
                       ("switch.list", {})):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect(sys.argv[1])
    s.sendall(json.dumps({"jsonrpc": "2.0", "id": 3, "method": method,
                          "params": params}).encode() + b"\n")
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    out.append(json.loads(buf))
print(json.dumps(out))
"""


def test_unallowed_uid_is_refused(daemon_factory):
    # The socket must be reachable for uid 65534, which pytest's private
    # temporary directories are not: put it in a directory of its own.
    sockdir = Path(tempfile.mkdtemp(prefix="vsw-rpc-"))
    try:
        d = daemon_factory(start=False)
        d.socket = sockdir / "vswitchd.sock"
        d.start("--socket", str(d.socket))
        d.rpc("switch.add", name="sw0")
        os.chmod(sockdir, 0o755)
        os.chmod(d.socket, 0o666)
        config = (d.state_dir / "config.json").read_text()
        res = subprocess.run([sys.executable, "-c", UNPRIVILEGED_CLIENT,
                              str(d.socket)], capture_output=True, text=True,
                             timeout=60)
        assert res.returncode == 0, res.stderr
        replies = json.loads(res.stdout)
        for reply in replies:
            assert error_of(reply) == PERMISSION, reply
            assert reply["id"] == 3
            assert "65534" in reply["error"]["message"]
        assert [s["name"] for s in d.rpc("switch.list")["switches"]] == [
            "sw0"]
        assert (d.state_dir / "config.json").read_text() == config
        assert "uid 65534 is not allowed" in d.log.read_text()
    finally:
        shutil.rmtree(sockdir, ignore_errors=True)
