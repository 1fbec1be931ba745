"""A real three-member etcd cluster on loopback, for the etcd tests.

Each member gets two ports that nothing else holds (asked from the kernel,
so parallel runs never collide) and a data directory under the test's
tmp_path.  Members are started and stopped by pid, one at a time or all
together; stop_all() at teardown kills whatever still runs and removes the
data, even when the test failed.
"""

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

ETCD = shutil.which("etcd") or "/usr/bin/etcd"
ETCDCTL = shutil.which("etcdctl") or "/usr/bin/etcdctl"


def free_ports(n):
    """'n' loopback TCP ports free right now, all different."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class EtcdCluster:
    """'size' members on 'host' (loopback by default).  With 'netns', the
    members run in that namespace (and etcdctl too): its ports are all
    free, so fixed ones are used."""

    def __init__(self, base_dir, size=3, netns=None, host="127.0.0.1"):
        self.base_dir = base_dir
        self.netns = netns
        self.host = host
        ports = (list(range(23790, 23790 + 2 * size)) if netns
                 else free_ports(2 * size))
        self.names = [f"m{i}" for i in range(size)]
        self.client_ports = ports[:size]
        self.peer_ports = ports[size:]
        self.token = f"vswtest-{os.getpid()}-{ports[0]}"
        self.procs = {}
        self.initial = ",".join(
            f"{n}=http://{host}:{p}"
            for n, p in zip(self.names, self.peer_ports))

    def url(self, i):
        return f"http://{self.host}:{self.client_ports[i]}"

    @property
    def urls(self):
        return ",".join(self.url(i) for i in range(len(self.names)))

    def start_member(self, i):
        name = self.names[i]
        data = self.base_dir / f"etcd-{name}"
        log = open(self.base_dir / f"etcd-{name}.log", "a")
        state = "existing" if data.exists() else "new"
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        peer = f"http://{self.host}:{self.peer_ports[i]}"
        self.procs[i] = subprocess.Popen(
            prefix + [ETCD, "--name", name, "--data-dir", str(data),
             "--listen-client-urls", self.url(i),
             "--advertise-client-urls", self.url(i),
             "--listen-peer-urls", peer,
             "--initial-advertise-peer-urls", peer,
             "--initial-cluster", self.initial,
             "--initial-cluster-state", state,
             "--initial-cluster-token", self.token,
             "--heartbeat-interval", "100", "--election-timeout", "1000"],
            stdout=log, stderr=log)

    def start(self):
        for i in range(len(self.names)):
            self.start_member(i)
        self.wait_healthy()
        return self

    def stop_member(self, i):
        proc = self.procs.pop(i, None)
        if proc and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    def stop_all(self):
        for i in list(self.procs):
            self.stop_member(i)

    def cleanup(self):
        self.stop_all()
        for name in self.names:
            shutil.rmtree(self.base_dir / f"etcd-{name}", ignore_errors=True)

    def running(self):
        return [i for i, p in self.procs.items() if p.poll() is None]

    def wait_healthy(self, timeout=30):
        """Until a write through a running member succeeds (a quorum)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i in self.running():
                try:
                    if self.netns:
                        self.ctl("put", "/health-probe", "ok")
                    else:
                        self.request(i, "/v3/kv/put",
                                     {"key": b64("/health-probe"),
                                      "value": b64("ok")}, timeout=2)
                    return
                except (OSError, AssertionError, subprocess.SubprocessError):
                    pass
            time.sleep(0.2)
        raise AssertionError("etcd cluster not healthy in time")

    def request(self, i, path, body, timeout=5):
        req = urllib.request.Request(
            self.url(i) + path, data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())

    def ctl(self, *args, check=True):
        endpoints = ",".join(self.url(i) for i in self.running())
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        res = subprocess.run(prefix + [ETCDCTL, "--endpoints", endpoints,
                              "--dial-timeout", "3s", *args],
                             capture_output=True, text=True, timeout=30,
                             env={**os.environ, "ETCDCTL_API": "3"})
        if check and res.returncode:
            raise AssertionError(f"etcdctl {args}: {res.stderr}")
        return res.stdout

    def get_prefix(self, prefix):
        """{key: value} of every key under 'prefix' (etcdctl)."""
        out = self.ctl("get", "--prefix", prefix, "-w", "json")
        kvs = json.loads(out).get("kvs", [])
        return {base64.b64decode(kv["key"]).decode():
                base64.b64decode(kv.get("value", "")).decode()
                for kv in kvs}

    def lease_of(self, key):
        out = self.ctl("get", key, "-w", "json")
        kvs = json.loads(out).get("kvs", [])
        return kvs[0].get("lease", 0) if kvs else None


def b64(s):
    return base64.b64encode(s.encode()).decode()
