"""config.json of an older format is migrated forward at start, the
original kept as config.json.v1; a newer format, or a file that does not
parse, stops the start and is never overwritten.

The input is tests/system/data/config-format1.json, written by a real
format-1 daemon (see data/README.md): one switch with every switch setting
off its default, ports of every VLAN mode, an uplink, and basic and
extended ACL rules.
"""

import json
import re
import subprocess
from pathlib import Path

import pytest

from conftest import VSWITCHD

FIXTURE = Path(__file__).parent / "data" / "config-format1.json"

# Members of a format-1 object that are not settings.
SWITCH_NON_SETTINGS = {"name", "ports", "extensions"}
PORT_NON_SETTINGS = {"name", "tap-location", "acls", "xacls"}

# Members of acl.list and xacl.list rules that config.json does not hold.
RULE_COUNTERS = {"packets", "bytes"}


def settings_of(obj):
    """The settings of a switch or port object as the daemon returns it:
    its "settings" object if it has one, else the object itself (a flat
    answer); either way the test reads settings the same."""
    inner = obj.get("settings")
    return inner if isinstance(inner, dict) else obj


def fixture_switch_settings(sw):
    return {k: v for k, v in sw.items() if k not in SWITCH_NON_SETTINGS}


def fixture_port_settings(port):
    """The settings of a format-1 port entry.  Format 1 wrote an unset list
    (allowed-ips, trunks) as ""; the daemon now says null, which given()
    leaves out like an absent key."""
    return {k: v for k, v in port.items()
            if k not in PORT_NON_SETTINGS and v != ""}


def given(settings, keys=None):
    """'settings' without its null members (a null is an unset setting,
    as good as absent), restricted to 'keys' if given."""
    return {k: v for k, v in settings.items()
            if v is not None and (keys is None or k in keys)}


def schema_defaults(daemon, kind):
    """{key: default} of every setting of 'kind'."""
    kinds = daemon.rpc("schema.get", kind=kind)["kinds"]
    return {s["key"]: s["default"] for s in kinds[0]["settings"]}


def as_in_fixture(settings, expected, defaults):
    """'settings' as the fixture can show them: settings added after
    format 1 must hold their defaults, and are then left out."""
    shown = given(settings, defaults)
    for key in set(shown) - set(expected):
        assert shown[key] == defaults.get(key), (key, shown[key])
    return {k: v for k, v in shown.items() if k in expected}


def schema_keys(daemon, kind):
    kinds = daemon.rpc("schema.get", kind=kind)["kinds"]
    assert [k["kind"] for k in kinds] == [kind], kinds
    return {s["key"] for s in kinds[0]["settings"]}


def without_counters(rules):
    return [{k: v for k, v in r.items() if k not in RULE_COUNTERS}
            for r in rules]


def fixture_for_this_run(topo):
    """The fixture with interface names of this run (removed at teardown by
    'topo'): a fresh TAP name per TAP port, the first end of a new veth for
    the uplink.  Returns (config, bytes to write)."""
    config = json.loads(FIXTURE.read_text())
    assert config["format"] == 1
    for sw in config["switches"]:
        for port in sw["ports"]:
            if port["type"] == "uplink":
                port["ifname"], _ = topo.veth()
            else:
                port["ifname"] = topo.ifname("mg")
            if "tap-location" in port:
                # Where the fixture's daemon last saw the TAP.  Its index
                # and MAC would lead this daemon to whatever device has
                # them now on this host (another test's, say), so only
                # the name stays: the daemon finds nothing and creates
                # the TAP afresh.
                port["tap-location"] = {"netns-pinned": False,
                                        "ifname": port["ifname"],
                                        "ifindex": 0}
    # The layout of the daemon's own files: 2-space indent, sorted keys.
    text = json.dumps(config, indent=2, sort_keys=True) + "\n"
    return config, text.encode()


def config_files(state_dir):
    return sorted(p.name for p in state_dir.iterdir()
                  if p.name.startswith("config.json"))


def state_with_fixture(daemon_factory, topo, content=None):
    """A daemon, not started, whose state directory holds the fixture of
    this run, or 'content' (bytes).  Returns (daemon, config, bytes)."""
    daemon = daemon_factory(start=False)
    daemon.state_dir.mkdir(parents=True)
    config, text = fixture_for_this_run(topo)
    if content is not None:
        text = content
    (daemon.state_dir / "config.json").write_bytes(text)
    return daemon, config, text


def assert_daemon_matches(daemon, config):
    """Every switch setting, port setting and ACL rule of the format-1
    'config' comes back through the daemon's methods, and nothing more."""
    switch_keys = schema_keys(daemon, "switch")
    port_keys = schema_keys(daemon, "port")

    listed = [sw["name"] for sw in daemon.rpc("switch.list")["switches"]]
    assert listed == [sw["name"] for sw in config["switches"]]
    for sw in config["switches"]:
        expected = fixture_switch_settings(sw)
        assert set(expected) <= switch_keys, (
            f"schema.get lost switch settings: {set(expected) - switch_keys}")
        got = daemon.rpc("switch.get", name=sw["name"])
        assert as_in_fixture(settings_of(got), expected,
                             schema_defaults(daemon, "switch")) == expected, \
            sw["name"]
        assert got["ports"] == [p["name"] for p in sw["ports"]]

        for port in sw["ports"]:
            name = port["name"]
            expected = fixture_port_settings(port)
            assert set(expected) <= port_keys, (
                f"schema.get lost port settings: {set(expected) - port_keys}")
            got = daemon.rpc("port.get", name=name)
            assert got["switch"] == sw["name"], name
            assert as_in_fixture(settings_of(got), expected,
                                 schema_defaults(daemon, "port")) == expected, name

            acls = daemon.rpc("acl.list", port=name)["rules"]
            assert without_counters(acls) == port.get("acls", []), name
            xacls = daemon.rpc("xacl.list", port=name)["rules"]
            assert without_counters(xacls) == port.get("xacls", []), name


def assert_format2_file(path, config, daemon):
    """'path' is the format-2 form of the format-1 'config': the same
    switches, ports, rules and extensions, every setting moved into a
    "settings" object."""
    saved = json.loads(path.read_text())
    assert saved["format"] == 2, saved.get("format")
    assert saved.get("extensions", []) == config.get("extensions", [])
    assert [sw["name"] for sw in saved["switches"]] == [
        sw["name"] for sw in config["switches"]]
    for old, new in zip(config["switches"], saved["switches"]):
        assert set(new) <= SWITCH_NON_SETTINGS | {"settings"}, (
            f"switch {old['name']}: settings left outside 'settings': "
            f"{set(new) - SWITCH_NON_SETTINGS - {'settings'}}")
        assert as_in_fixture(new["settings"], fixture_switch_settings(old),
                             schema_defaults(daemon, "switch")) == \
            fixture_switch_settings(old)
        assert new.get("extensions", []) == old.get("extensions", [])
        assert [p["name"] for p in new["ports"]] == [
            p["name"] for p in old["ports"]]
        for old_port, port in zip(old["ports"], new["ports"]):
            name = old_port["name"]
            assert set(port) <= PORT_NON_SETTINGS | {"settings"}, (
                f"port {name}: settings left outside 'settings': "
                f"{set(port) - PORT_NON_SETTINGS - {'settings'}}")
            expected = fixture_port_settings(old_port)
            assert as_in_fixture(port["settings"], expected,
                                 schema_defaults(daemon, "port")) == \
                expected, name
            assert ("tap-location" in port) == (
                old_port["type"] == "tap"), name
            assert port.get("acls", []) == old_port.get("acls", []), name
            assert port.get("xacls", []) == old_port.get("xacls", []), name


def migration_lines(log_text):
    return [line for line in log_text.splitlines()
            if "migrated" in line and "format 1" in line]


def test_format1_is_migrated(daemon_factory, topo):
    daemon, config, original = state_with_fixture(daemon_factory, topo)
    state = daemon.state_dir
    daemon.start(workers=1)

    # The files first: they are what the migration is about.
    assert config_files(state) == ["config.json", "config.json.v1"]
    assert (state / "config.json.v1").read_bytes() == original
    assert_format2_file(state / "config.json", config, daemon)
    assert len(migration_lines(daemon.log.read_text())) == 1, (
        daemon.log.read_text())

    assert_daemon_matches(daemon, config)


def test_restart_after_migration_keeps_everything(daemon_factory, topo):
    daemon, config, original = state_with_fixture(daemon_factory, topo)
    state = daemon.state_dir
    daemon.start(workers=1)
    assert (state / "config.json.v1").read_bytes() == original
    v1_stat = (state / "config.json.v1").stat()
    assert daemon.stop() == 0

    daemon.start(workers=1)
    assert config_files(state) == ["config.json", "config.json.v1"]
    v1 = state / "config.json.v1"
    assert v1.read_bytes() == original
    # Not written again, not even with the same bytes.
    assert (v1.stat().st_ino, v1.stat().st_mtime_ns) == (
        v1_stat.st_ino, v1_stat.st_mtime_ns)
    assert_format2_file(state / "config.json", config, daemon)
    assert len(migration_lines(daemon.log.read_text())) == 1, (
        daemon.log.read_text())
    assert_daemon_matches(daemon, config)


def run_refused_start(daemon):
    """Runs vswitchd on the state directory of 'daemon' expecting it to
    refuse to start; returns its completed process."""
    try:
        res = subprocess.run(
            [str(VSWITCHD), "--state-dir", str(daemon.state_dir),
             "--log-file", str(daemon.log), "--workers", "1"],
            capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("vswitchd started on a configuration it must refuse")
    assert res.returncode != 0, (res.stdout, res.stderr)
    return res


def newer_format(version):
    """The fixture of this run, as if a daemon of format 'version' wrote
    it."""
    def make(topo):
        config, _ = fixture_for_this_run(topo)
        config["format"] = version
        return (json.dumps(config, indent=2, sort_keys=True) + "\n").encode()
    return make


@pytest.mark.parametrize("make_content, explanation", [
    (newer_format(3), r"format\D{0,3}3\b"),
    (newer_format(99), r"format\D{0,3}99\b"),
    (lambda topo: b"\x00\xff\xfegarbage{{{ not json\n", r"line \d+"),
    (lambda topo: FIXTURE.read_bytes()[:200], r"line \d+"),
], ids=["format-3", "format-99", "garbage", "truncated"])
def test_unusable_config_stops_the_start(daemon_factory, topo, make_content,
                                         explanation):
    content = make_content(topo)
    daemon, _, _ = state_with_fixture(daemon_factory, topo, content)
    state = daemon.state_dir
    config = state / "config.json"
    before = config.stat()

    res = run_refused_start(daemon)

    assert str(config) in res.stderr, res.stderr
    assert re.search(explanation, res.stderr.replace(str(config), "")), (
        res.stderr)
    assert config.read_bytes() == content
    assert config.stat().st_mtime_ns == before.st_mtime_ns
    assert config_files(state) == ["config.json"]
    assert not (state / "vswitchd.sock").exists()
