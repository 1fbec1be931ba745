"""Prometheus metrics (vswitchd --metrics-address): the exposition that
promtool accepts, its figures against port stats and the ACL counters,
HTTP errors and the connection cap, and a real Prometheus server scraping
the daemon.

One daemon with two VMs serves the whole module.
"""

import json
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import (VSWITCHD, Daemon, Topology, add_vm, ping, sh, unique,
                      wait_for)

MAX_CONNECTIONS = 16  # VSW_METRICS_MAX_CONNECTIONS

pytestmark = pytest.mark.skipif(
    not shutil.which("promtool") or not shutil.which("prometheus"),
    reason="Debian's prometheus package is not installed")


def free_port():
    """A loopback TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(address):
    with urllib.request.urlopen(f"http://{address}/metrics",
                                timeout=10) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith(
            "text/plain; version=0.0.4")
        return resp.read().decode()


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def parse(text):
    """{(name, frozenset of label pairs): value} of an exposition."""
    samples = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A daemon serving metrics, with VMs a and b on switch sw (b has a
    basic ACL rule), after known traffic between them."""
    topo = Topology()
    tmp = tmp_path_factory.mktemp("metrics")
    daemon = Daemon(tmp / "state")
    address = f"127.0.0.1:{free_port()}"
    try:
        daemon.start("--metrics-address", address)
        sw, a, b = unique("msw"), unique("ma"), unique("mb")
        daemon.rpc("switch.add", name=sw)
        ns_a, _ = add_vm(daemon, topo, sw, a, ip="198.18.40.1")
        ns_b, _ = add_vm(daemon, topo, sw, b, ip="198.18.40.2")
        daemon.ctl("acl", "add", b, "action=allow", "direction=in",
                   "remote-ip=198.18.40.1/32")
        assert ping(ns_a, "198.18.40.2", count=5)
        yield {"daemon": daemon, "address": address, "switch": sw,
               "ports": (a, b), "tmp": tmp}
    finally:
        daemon.stop()
        report = daemon.sanitizer_report()
        daemon.unpin_all()
        topo.cleanup()
        assert not report, report


def test_promtool_accepts_the_exposition(env):
    text = scrape(env["address"])
    res = subprocess.run(["promtool", "check", "metrics"], input=text,
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stdout + res.stderr
    # Every family announced once, before its samples.
    types = re.findall(r"^# TYPE (\S+) (counter|gauge)$", text, re.M)
    assert len(types) == len({name for name, _ in types})
    for name, kind in types:
        assert kind != "counter" or name.endswith("_total"), name


def test_values_equal_port_stats_and_acl_counters(env):
    daemon, sw = env["daemon"], env["switch"]
    a, b = env["ports"]

    def consistent():
        # Late frames (ARP) may move a counter between the two reads.
        before = daemon.ctl("port", "stats")
        samples = parse(scrape(env["address"]))
        after = daemon.ctl("port", "stats")
        return (samples, after) if before == after else None

    samples, stats = wait_for(consistent)
    ports = {p["name"]: p for p in stats["ports"]}
    assert ports[a]["rx-packets"] >= 5 and ports[b]["tx-packets"] >= 5
    for port in (a, b):
        st = ports[port]
        for key in ("rx-packets", "rx-bytes", "tx-packets", "tx-bytes"):
            name = "vswitch_port_" + key.replace("-", "_") + "_total"
            assert value(samples, name, switch=sw, port=port) == st[key], \
                (name, port)
        for reason, count in st["drops"].items():
            assert value(samples, "vswitch_port_drops_total", switch=sw,
                         port=port, reason=reason) == count, reason
    rule = daemon.ctl("acl", "list", b)["rules"][0]
    assert rule["packets"] >= 5
    assert value(samples, "vswitch_acl_rule_packets_total", switch=sw,
                 port=b, table="acl", rule=str(rule["id"]), direction="in",
                 action="allow") == rule["packets"]
    assert value(samples, "vswitch_acl_rule_bytes_total", switch=sw,
                 port=b, table="acl", rule=str(rule["id"]), direction="in",
                 action="allow") == rule["bytes"]
    assert value(samples, "vswitch_mac_table_entries", switch=sw) == 2
    assert value(samples, "vswitch_mac_table_capacity_entries",
                 switch=sw) == 65536
    status = daemon.rpc("system.status")
    for w in status["workers"]:
        worker = str(w["worker"])
        hits = value(samples, "vswitch_flow_cache_hits_total", worker=worker)
        misses = value(samples, "vswitch_flow_cache_misses_total",
                       worker=worker)
        assert hits is not None and misses is not None
        assert value(samples, "vswitch_worker_rx_queues",
                     worker=worker) == w["queues"]
    assert value(samples, "vswitch_info",
                 version=status["version"]) == 1


def http_raw(address, request, timeout=10):
    """Sends raw bytes; returns the status line of the answer."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n", 1)[0].decode()


def test_bad_requests_get_http_errors(env):
    address = env["address"]
    assert http_raw(address, b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n") \
        .split()[1] == "404"
    assert http_raw(address, b"POST /metrics HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Length: 0\r\n\r\n").split()[1] == "405"
    huge = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 \
        + b"\r\n\r\n"
    assert http_raw(address, huge).split()[1] in ("400", "413", "431")
    assert http_raw(address, b"NONSENSE\r\n\r\n").split()[1] in ("400",
                                                                "501")
    body = b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000" \
        b"\r\n\r\n" + b"x" * 100000
    assert http_raw(address, body).split()[1] in ("400", "413")
    # HEAD: the headers only.
    req = urllib.request.Request(f"http://{address}/metrics", method="HEAD")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200 and resp.read() == b""
    # The daemon is unhurt.
    assert env["daemon"].rpc("system.status")["version"]
    assert "vswitch_port_rx_packets_total" in scrape(address)


def test_connections_are_capped(env):
    host, port = env["address"].rsplit(":", 1)
    idle = [socket.create_connection((host, int(port)), timeout=10)
            for _ in range(MAX_CONNECTIONS)]
    late = None
    try:
        # The idle connections hold every slot: a new client waits.
        late = socket.create_connection((host, int(port)), timeout=10)
        late.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        readable, _, _ = select.select([late], [], [], 1.0)
        assert not readable, "served beyond the connection cap"
        # One leaves: the waiting client is served.  (An idle client
        # could hold its slot at most 10 s, evhttp's idle timeout.)
        idle.pop().close()
        readable, _, _ = select.select([late], [], [], 15)
        assert readable
        assert late.recv(4096).startswith(b"HTTP/1.1 200")
    finally:
        for s in idle:
            s.close()
        if late:
            late.close()
    assert "vswitch_info" in scrape(env["address"])


def test_bad_addresses_are_refused(env):
    tmp = env["tmp"]
    for bad in ("localhost", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000",
                "300.1.1.1:80", ""):
        res = subprocess.run([str(VSWITCHD), "--state-dir",
                              str(tmp / unique("bad")), "--metrics-address",
                              bad], capture_output=True, text=True,
                             timeout=30)
        assert res.returncode != 0
        assert "--metrics-address" in res.stderr, res.stderr
    # A port someone else has: the start is refused, with the reason.
    res = subprocess.run([str(VSWITCHD), "--state-dir",
                          str(tmp / unique("bad")), "--metrics-address",
                          env["address"]], capture_output=True, text=True,
                         timeout=30)
    assert res.returncode != 0
    assert "Address already in use" in res.stderr, res.stderr


def test_prometheus_scrapes_the_daemon(env):
    daemon, sw = env["daemon"], env["switch"]
    a, _ = env["ports"]
    storage = Path(tempfile.mkdtemp(prefix="vsw-prom-", dir=env["tmp"]))
    config = storage / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: vswitch\n    static_configs:\n"
        f"      - targets: ['{env['address']}']\n")
    web = f"127.0.0.1:{free_port()}"
    log = open(storage / "prometheus.log", "w")
    prom = subprocess.Popen(
        ["prometheus", f"--config.file={config}",
         f"--storage.tsdb.path={storage / 'data'}",
         f"--web.listen-address={web}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        expected = daemon.stats(a)["rx-packets"]
        query = urllib.parse.urlencode({
            "query": f'vswitch_port_rx_packets_total{{switch="{sw}",'
                     f'port="{a}"}}'})

        def scraped_value():
            assert prom.poll() is None, (storage / "prometheus.log") \
                .read_text()
            try:
                with urllib.request.urlopen(
                        f"http://{web}/api/v1/query?{query}",
                        timeout=5) as resp:
                    answer = json.load(resp)
            except (urllib.error.URLError, ConnectionError):
                return None
            result = answer["data"]["result"]
            if not result:
                return None
            got = float(result[0]["value"][1])
            # The counter may still grow by a late frame: wait for the
            # scrape that has today's figure.
            return got if got == daemon.stats(a)["rx-packets"] else None

        got = wait_for(scraped_value, timeout=60, interval=0.5)
        assert got >= expected
        # Prometheus saw the target up, so it parsed the whole scrape.
        up = urllib.parse.urlencode({"query": 'up{job="vswitch"}'})
        with urllib.request.urlopen(f"http://{web}/api/v1/query?{up}",
                                    timeout=5) as resp:
            assert json.load(resp)["data"]["result"][0]["value"][1] == "1"
    finally:
        prom.send_signal(signal.SIGTERM)
        try:
            prom.wait(timeout=20)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait()
        log.close()
        shutil.rmtree(storage, ignore_errors=True)


def test_team_and_tunnel_series(daemon_factory, topo):
    """A daemon in a namespace of its own, with a team of two veths and a
    VXLAN tunnel: their series equal team show and tunnel list."""
    ns = topo.netns("mt")
    for member in ("ul0", "m0", "m1"):
        sh(["ip", "-n", ns, "link", "add", member, "type", "veth", "peer",
            "name", member + "p"])
        sh(["ip", "-n", ns, "link", "set", member, "up"])
        sh(["ip", "-n", ns, "link", "set", member + "p", "up"])
    # The tunnel's underlay address.
    sh(["ip", "-n", ns, "addr", "add", "10.99.0.1/24", "dev", "ul0"])
    daemon = daemon_factory("teamtun", start=False, netns=ns)
    # The namespace is the test's own: a fixed port cannot collide.
    daemon.start("--metrics-address", "127.0.0.1:9433")
    daemon.rpc("switch.add", name="sw0")
    team, tunnel = unique("mtm"), unique("mvx")
    daemon.rpc("team.add", switch="sw0", name=team, members="m0,m1")
    daemon.rpc_raw("tunnel.add", {"switch": "sw0", "name": tunnel,
                                  "local-ip": "10.99.0.1",
                                  "remote": "5001:10.99.0.2,5001:10.99.0.3"})

    def consistent():
        before = daemon.rpc("team.show", name=team)["teams"][0]
        text = sh(["curl", "-sf", "http://127.0.0.1:9433/metrics"],
                  ns=ns).stdout
        after = daemon.rpc("team.show", name=team)["teams"][0]
        if before["member-state"] != after["member-state"]:
            return None
        return parse(text), after

    samples, shown = wait_for(consistent)
    assert value(samples, "vswitch_team_active_members", switch="sw0",
                 team=team) == shown["active-members"]
    assert value(samples, "vswitch_team_failovers_total", switch="sw0",
                 team=team) == shown["failovers"]
    for member in shown["member-state"]:
        labels = {"switch": "sw0", "team": team, "member": member["name"]}
        assert value(samples, "vswitch_team_member_active", **labels) == \
            (1 if member["state"] == "active" else 0)
        assert value(samples, "vswitch_team_member_rx_packets_total",
                     **labels) == member["rx-packets"]
    listed = {t["name"]: t for t in daemon.rpc("tunnel.list")["tunnels"]}
    assert value(samples, "vswitch_tunnel_remote_vteps", switch="sw0",
                 tunnel=tunnel) == len(listed[tunnel]["remotes"]) == 2
    assert value(samples, "vswitch_tunnel_learned_macs", switch="sw0",
                 tunnel=tunnel) == 0
    # A tunnel's drops are port drops, with the VXLAN reasons.
    assert value(samples, "vswitch_port_drops_total", switch="sw0",
                 port=tunnel, reason="vxlan-no-remote") == \
        daemon.stats(tunnel)["drops"]["vxlan-no-remote"]
