"""LACP (datapath/team/lacp.c) against a real partner: Open vSwitch's
userspace LACP bond (ovs_peer.py) over two veth pairs, our end driven by
lacp_actor.c (built here with cc) in a namespace of its own.

Both ends must agree that the bond negotiated, each naming the other as
partner with its key, and silence on one member must remove it within
the fast timeout (3 s) on the side that stops hearing, and no sooner
than the periodic interval allows.  The slow timeout (90 s) is covered
on the virtual clock by tests/unit/test_lacp.c.
"""

import json
import queue
import subprocess
import threading
import time

import pytest

from conftest import TOP, sh, wait_for
from ovs_peer import ovs  # noqa: F401 (the fixture)

# Runs alone in scripts/test.sh: it waits on LACP timers.
pytestmark = pytest.mark.serial

ACTOR_SYSTEM = "02:00:00:00:1a:c9"
ACTOR_KEY = 5
STATE_BITS = ["activity", "timeout", "aggregation", "synchronized",
              "collecting", "distributing", "defaulted", "expired"]


def state_words(bits):
    return [word for i, word in enumerate(STATE_BITS) if bits & (1 << i)]


@pytest.fixture(scope="module")
def actor_binary(tmp_path_factory):
    out = tmp_path_factory.mktemp("lacp-actor") / "lacp_actor"
    sh(["cc", "-std=gnu11", "-D_GNU_SOURCE", "-O1", "-Wall", "-Wextra",
        "-Werror", f"-I{TOP}/datapath/team",
        str(TOP / "tests/system/lacp_actor.c"),
        str(TOP / "datapath/team/lacp.c"), "-o", str(out)], timeout=120)
    return out


class Actor:
    """lacp_actor running in namespace 'ns' on 'ifaces'."""

    def __init__(self, binary, ns, rate, ifaces):
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, str(binary), rate, *ifaces],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            bufsize=1)
        self.lines = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.expect(lambda e: e.get("event") == "ready")

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))

    def expect(self, pred, timeout=10):
        """The next output object that satisfies 'pred' (others are
        skipped), or fails after 'timeout' s."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                obj = self.lines.get(timeout=max(left, 0.01))
            except queue.Empty:
                raise AssertionError(f"lacp_actor: nothing matching within "
                                     f"{timeout} s") from None
            if pred(obj):
                return obj
            if left <= 0:
                raise AssertionError("lacp_actor: nothing matching")

    def command(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def status(self):
        self.command("status")
        return [self.expect(lambda e, i=i: e.get("member") == i)
                for i in range(2)]

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.command("quit")
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def bond_pair(ovs, topo, actor_binary):  # noqa: F811
    """Makes (actor, ovs bond name, OVS member names): OVS bond over the
    far ends of two veth pairs whose near ends lacp_actor drives."""
    actors = []

    def make(rate):
        ns = topo.netns("la")
        near, far = [], []
        for _ in range(2):
            a, b = topo.ifname("la"), topo.ifname("lb")
            sh(["ip", "link", "add", a, "type", "veth", "peer", "name", b])
            sh(["ip", "link", "set", a, "netns", ns])
            sh(["ip", "netns", "exec", ns, "sysctl", "-q", "-w",
                f"net.ipv6.conf.{a}.disable_ipv6=1"])
            sh(["ip", "-n", ns, "link", "set", a, "up"])
            near.append(a)
            far.append(b)
        bridge, bond = topo.ifname("br"), topo.ifname("bd")
        ovs.add_bridge(bridge)
        ovs.add_bond(bridge, bond, far, lacp="active", fast=rate == "fast")
        actor = Actor(actor_binary, ns, rate, near)
        actors.append(actor)
        return actor, bond, far

    yield make
    for actor in actors:
        actor.stop()


def negotiated(actor, ovs, bond, far, rate):  # noqa: F811
    """Waits until both ends distribute on both members and checks that
    each names the other as partner."""
    actor.expect(lambda e: e.get("event") == "distributing"
                 and e["members"] == [1, 1])

    def ovs_ready(s):
        return s.get("negotiated") and len(s["members"]) == 2 and all(
            m["status"] == "current" and m["attached"] and m["may_enable"]
            and {"synchronized", "collecting", "distributing"}
            <= set(m["partner"]["state"])
            for m in s["members"].values())

    show = ovs.wait_lacp(bond, ovs_ready)
    assert show["lacp_time"] == rate
    for name, member in show["members"].items():
        assert member["partner"]["sys_id"] == ACTOR_SYSTEM
        assert member["partner"]["key"] == ACTOR_KEY
        assert member["partner"]["port_id"] == far.index(name) + 1
        assert ("timeout" in member["partner"]["state"]) == (rate == "fast")
    ovs_members = {m["actor"]["port_id"]: m for m in show["members"].values()}
    for st in actor.status():
        assert st["distributing"] and st["why"] == ""
        assert st["partner_system"] == show["sys_id"]
        assert st["partner_key"] == show["key"]
        assert st["rx_bad"] == 0 and st["send_errors"] == 0
        # What we recorded of OVS is what OVS says of itself.
        ovs_member = ovs_members[st["partner_port"]]
        assert state_words(st["partner_state"]) == [
            w for w in STATE_BITS if w in ovs_member["actor"]["state"]]
    return show


@pytest.mark.parametrize("rate", ["fast", "slow"])
def test_negotiates_with_ovs(bond_pair, ovs, rate):  # noqa: F811
    actor, bond, far = bond_pair(rate)
    negotiated(actor, ovs, bond, far, rate)
    assert ovs.bond_show(bond)["lacp_status"] == "negotiated"


def test_fast_timeouts_both_ways(bond_pair, ovs):  # noqa: F811
    actor, bond, far = bond_pair("fast")
    negotiated(actor, ovs, bond, far, "fast")

    # We stop hearing member 1: it leaves 3 s after its last LACPDU
    # (OVS sends every second, so 2 to 3 s after we went deaf), member 0
    # stays, and OVS follows when our LACPDUs say we are out of sync.
    actor.command("deaf 1")
    gone = actor.expect(lambda e: e.get("event") == "distributing",
                        timeout=6)
    assert gone["members"] == [1, 0]
    st = actor.status()[1]
    assert st["why"] == "expired"
    assert 2.95 <= gone["t"] - st["last_rx"] <= 3.05
    wait_for(lambda: not ovs.bond_show(bond)["members"][far[1]]["enabled"],
             timeout=3)

    # OVS stops hearing member 0: it expires the member within its fast
    # timeout (3 s), and not before 2 s (we sent at most 1 s before).
    actor.command("mute 0")
    muted = time.monotonic()
    wait_for(lambda: ovs.lacp_show(bond)["members"][far[0]]["status"]
             != "current", timeout=5, interval=0.05)
    silent = time.monotonic() - muted
    assert 1.9 <= silent <= 3.3, silent
    assert ovs.lacp_show(bond)["members"][far[0]]["status"] == "expired"
