"""The etcd client of vswitchd against a real three-member etcd cluster.

The client level (issue 13, part 2): the host key published with a lease,
gone when the daemon dies; a member down changes nothing; the whole cluster
down and back: reconnect, new lease, republish, resync; malformed values of
other tools ignored and counted.
"""

import json
import subprocess
import time

import pytest

from conftest import VSWITCHD, RpcError, unique, wait_for
from etcd_cluster import EtcdCluster

PREFIX = "/vswitch/v1/"


@pytest.fixture
def etcd(tmp_path):
    cluster = EtcdCluster(tmp_path)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.cleanup()


def show(daemon):
    return daemon.rpc("etcd.show")


def connected(daemon):
    return show(daemon)["state"] == "connected"


def start(daemon_factory, urls, host_id=None):
    host_id = host_id or unique("h")
    d = daemon_factory(host_id, start=False)
    d.start("--etcd", urls, "--host-id", host_id)
    d.host_id = host_id
    assert wait_for(lambda: connected(d), timeout=15), show(d)
    return d


def put(etcd, key, value):
    etcd.ctl("put", PREFIX + key, value)


def test_host_key_has_a_lease_and_goes_with_the_daemon(etcd, daemon_factory):
    d = start(daemon_factory, etcd.urls)
    key = f"{PREFIX}hosts/{d.host_id}"
    assert wait_for(lambda: show(d)["keys-published"] == 1), show(d)
    info = show(d)
    assert info["enabled"] is True
    assert info["host-id"] == d.host_id
    assert info["endpoints"] == etcd.urls.split(",")
    assert info["endpoint"] in info["endpoints"]
    assert info["lease-ttl"] == 10
    assert info["revision"] > 0

    value = json.loads(etcd.get_prefix(key)[key])
    assert isinstance(value["since"], int)
    lease = etcd.lease_of(key)
    assert lease and format(lease, "x") == info["lease"]
    ttl = etcd.ctl("lease", "timetolive", info["lease"])
    assert "granted with TTL(10s)" in ttl, ttl

    # Kept alive: still there after more than one TTL.
    time.sleep(12)
    assert key in etcd.get_prefix(key)

    d.kill9()
    assert key in etcd.get_prefix(key)  # the lease outlives it for a while
    assert wait_for(lambda: key not in etcd.get_prefix(key), timeout=15)


def test_other_hosts_mappings_are_learned_and_forgotten(etcd, daemon_factory):
    d = start(daemon_factory, etcd.urls)
    put(etcd, "hosts/hb", '{"vtep":"192.0.2.2","since":1}')
    put(etcd, "vni/5001/vteps/hb", '{"vtep":"192.0.2.2"}')
    put(etcd, "vni/5001/macs/02:00:00:00:00:0b/hb", '{"vtep":"192.0.2.2"}')
    assert wait_for(lambda: show(d)["mappings-learned"] == 2), show(d)
    info = show(d)
    assert (info["hosts"], info["remote-vteps"], info["remote-macs"]) == \
        (1, 1, 1)
    etcd.ctl("del", PREFIX + "vni/5001/macs/02:00:00:00:00:0b/hb")
    assert wait_for(lambda: show(d)["remote-macs"] == 0), show(d)
    assert show(d)["remote-vteps"] == 1


def test_one_member_down_changes_nothing(etcd, daemon_factory):
    d = start(daemon_factory, etcd.urls)
    put(etcd, "vni/5001/vteps/hb", '{"vtep":"192.0.2.2"}')
    assert wait_for(lambda: show(d)["remote-vteps"] == 1)
    before = show(d)
    key = f"{PREFIX}hosts/{d.host_id}"

    # Stop the member the daemon talks to: it moves to another one.
    in_use = etcd.urls.split(",").index(before["endpoint"])
    etcd.stop_member(in_use)
    assert wait_for(lambda: connected(d)
                    and show(d)["endpoint"] != before["endpoint"],
                    timeout=15), show(d)
    after = show(d)
    assert after["lease"] == before["lease"]  # the same lease goes on
    assert after["leases-granted"] == before["leases-granted"]
    assert after["remote-vteps"] == 1
    assert key in etcd.get_prefix(key)
    assert etcd.lease_of(key) == int(before["lease"], 16)

    # Still watching: a change made now arrives.
    put(etcd, "vni/5002/vteps/hb", '{"vtep":"192.0.2.2"}')
    assert wait_for(lambda: show(d)["remote-vteps"] == 2)


def test_all_members_down_and_back(etcd, daemon_factory):
    d = start(daemon_factory, etcd.urls)
    put(etcd, "vni/5001/vteps/hb", '{"vtep":"192.0.2.2"}')
    put(etcd, "vni/5001/macs/02:00:00:00:00:0b/hb", '{"vtep":"192.0.2.2"}')
    assert wait_for(lambda: show(d)["mappings-learned"] == 2)
    lease = show(d)["lease"]

    etcd.stop_all()
    assert wait_for(lambda: show(d)["state"] != "connected", timeout=10)
    # Past the TTL, unreachable, and nothing learned was forgotten.
    time.sleep(12)
    info = show(d)
    assert info["state"] in ("unreachable", "connecting"), info
    assert info["last-error"]
    assert info["mappings-learned"] == 2
    assert info["endpoint"] == ""

    etcd.start()
    assert wait_for(lambda: connected(d), timeout=30), show(d)
    key = f"{PREFIX}hosts/{d.host_id}"
    assert wait_for(lambda: key in etcd.get_prefix(key))
    info = show(d)
    # The old lease expired while etcd was down (its members kept
    # counting the time), or at least the daemon republished under one.
    assert etcd.lease_of(key) == int(info["lease"], 16)
    assert info["reconnects"] >= 1
    assert info["resyncs"] >= 1
    assert info["mappings-learned"] == 2
    if info["lease"] != lease:
        assert info["leases-granted"] == 2


def test_a_mapping_changed_while_unreachable_is_corrected(etcd,
                                                          daemon_factory):
    # The daemon knows one member only; the cluster keeps its quorum
    # without it, so others change mappings while the daemon cannot see.
    d = start(daemon_factory, etcd.url(2))
    put(etcd, "vni/5001/vteps/hb", '{"vtep":"192.0.2.2"}')
    put(etcd, "vni/5001/macs/02:00:00:00:00:0b/hb", '{"vtep":"192.0.2.2"}')
    put(etcd, "vni/5001/macs/02:00:00:00:00:0c/hb", '{"vtep":"192.0.2.2"}')
    assert wait_for(lambda: show(d)["mappings-learned"] == 3)

    etcd.stop_member(2)
    assert wait_for(lambda: show(d)["state"] != "connected", timeout=10)
    etcd.wait_healthy()  # the two others may be electing a leader
    etcd.ctl("del", PREFIX + "vni/5001/macs/02:00:00:00:00:0c/hb")
    put(etcd, "vni/5002/vteps/hc", '{"vtep":"192.0.2.3"}')
    # Compact past the changes: the daemon cannot watch from where it
    # was, only range again.
    rev = json.loads(etcd.ctl("get", "x", "-w", "json"))["header"]["revision"]
    etcd.ctl("compact", str(rev))
    assert show(d)["mappings-learned"] == 3  # last known, nothing flushed

    etcd.start_member(2)
    assert wait_for(lambda: connected(d)
                    and show(d)["remote-macs"] == 1
                    and show(d)["remote-vteps"] == 2, timeout=30), show(d)


def test_malformed_values_are_ignored_and_counted(etcd, daemon_factory):
    d = start(daemon_factory, etcd.urls)
    put(etcd, "vni/5001/vteps/hb", '{"vtep":"192.0.2.2"}')
    assert wait_for(lambda: show(d)["remote-vteps"] == 1)
    bad = {
        "vni/5001/vteps/hc": "not json",
        "vni/5001/vteps/hd": '{"vtep":"999.1.1.1"}',
        "vni/5001/vteps/he": '["192.0.2.5"]',
        "vni/0/vteps/hf": '{"vtep":"192.0.2.6"}',
        "vni/16777216/vteps/hf": '{"vtep":"192.0.2.6"}',
        "vni/abc/vteps/hf": '{"vtep":"192.0.2.6"}',
        "vni/5001/macs/02:00:00:00:00:0G/hf": '{"vtep":"192.0.2.6"}',
        "vni/5001/macs/02:00:00:00:00:0b": '{"vtep":"192.0.2.6"}',
        "vni/5001/vteps/a b": '{"vtep":"192.0.2.6"}',
        "something/else": "{}",
        # A valid key overwritten with garbage: the mapping goes.
        "vni/5001/vteps/hb": '{"vtep":42}',
    }
    for key, value in bad.items():
        put(etcd, key, value)
    assert wait_for(lambda: show(d)["malformed"] >= len(bad)), show(d)
    info = show(d)
    assert info["remote-vteps"] == 0
    assert info["state"] == "connected"
    assert d.running()
    # Binary junk too.
    etcd.request(0, "/v3/kv/put", {"key": "L3Zzd2l0Y2gvdjEvdm5pLzEvdnRlcHMv/w==",
                                   "value": "/wD+"})
    put(etcd, "vni/5003/vteps/hg", '{"vtep":"192.0.2.7"}')
    assert wait_for(lambda: show(d)["remote-vteps"] == 1)
    assert show(d)["malformed"] >= len(bad) + 1


def test_etcd_show_without_etcd_and_strict_params(daemon):
    assert daemon.rpc("etcd.show") == {"enabled": False,
                                       "state": "disabled"}
    with pytest.raises(RpcError):
        daemon.rpc("etcd.show", verbose=True)


@pytest.mark.parametrize("args,message", [
    (["--etcd", "127.0.0.1:2379"], "not an http:// or https:// URL"),
    (["--etcd", ""], "no etcd endpoint given"),
    (["--etcd", "http://a:1,"], "ends with ','"),
    (["--etcd", "http://"], "has no host"),
    (["--etcd", ",".join(["http://a:1"] * 9)], "more than 8"),
    (["--host-id", "a/b"], "host id 'a/b' is not"),
    (["--host-id", "x" * 64], "is not 1 to 63"),
])
def test_bad_options_are_refused(tmp_path, args, message):
    res = subprocess.run([str(VSWITCHD), "--state-dir", str(tmp_path / "s"),
                          *args], capture_output=True, text=True, timeout=30)
    assert res.returncode != 0
    assert message in res.stderr, res.stderr
    assert not (tmp_path / "s" / "vswitchd.sock").exists()


def test_the_cluster_is_saved_and_changed_by_rpc(etcd, daemon_factory):
    d = start(daemon_factory, etcd.urls)
    saved = json.loads((d.state_dir / "config.json").read_text())
    assert saved["etcd"] == {"endpoints": etcd.urls, "host-id": d.host_id}

    # A restart without the options uses the saved cluster and id.
    d.stop()
    d.start()
    assert wait_for(lambda: connected(d), timeout=15), show(d)
    assert show(d)["host-id"] == d.host_id

    # Bad input: refused, nothing changes.
    for params in ({"endpoints": "ftp://x"}, {"endpoints": 5},
                   {"endpoints": None}, {},
                   {"endpoints": etcd.url(0), "host-id": "a b"},
                   {"endpoints": etcd.url(0), "verbose": True}):
        with pytest.raises(RpcError):
            d.rpc_raw("etcd.set", params)
    assert show(d)["endpoints"] == etcd.urls.split(",")
    assert json.loads((d.state_dir / "config.json").read_text())["etcd"] \
        == saved["etcd"]

    # Another id: the new host key appears, the old one is deleted... by
    # its lease (a new client, a new lease).
    result = d.rpc("etcd.set", endpoints=etcd.url(1), host_id="renamed")
    assert result["host-id"] == "renamed"
    assert wait_for(lambda: connected(d) and show(d)["keys-published"] == 1)
    assert f"{PREFIX}hosts/renamed" in etcd.get_prefix(PREFIX + "hosts/")

    assert d.rpc("etcd.clear") == {"enabled": False, "state": "disabled"}
    assert "etcd" not in json.loads(
        (d.state_dir / "config.json").read_text())
    d.stop()
    d.start()
    assert show(d) == {"enabled": False, "state": "disabled"}
