"""One settings schema per object kind: schema.get, the checks the daemon
derives from it (types, ranges, unknown keys, fixed keys, keys of another
mode, all or nothing, strict JSON types and the CLI's text), the
documentation tables and the CLI help that must list exactly its keys.

The keys come from schema.get, never from this file: a key added to the
daemon is tested, and must be documented, without a change here.  Only
CONTRACT names the keys and properties the design promises today.
"""

import json
import random
import re
from pathlib import Path

import pytest

from conftest import TOP, VSWITCH_CTL, RpcError, sh, unique

INVALID_PARAMS = -32602

TYPES = {"integer", "bit-rate", "enum", "boolean", "mac", "vlan-set",
         "ip-list", "ifname", "vtep-list", "ifname-list", "path", "group"}
RANGED_TYPES = {"integer", "bit-rate"}

# What the design promises (docs/architecture.md, issue 9); schema.get may
# say more.  For each key: its type, or None where the design leaves it
# open, and further members schema.get must give it.
PVLAN_MODES = ["pvlan-isolated", "pvlan-community", "pvlan-promiscuous"]
CONTRACT = {
    "switch": {
        "mac-ageing": ("integer", {"default": 300}),
        "mac-table-size": ("integer", {}),
        "ipv6-unknown-next-header": ("enum", {"values": ["drop", "allow"]}),
        "metering-save-interval": ("integer", {"default": 10, "min": 1}),
    },
    "port": {
        "type": ("enum", {"values": ["tap", "uplink", "vxlan", "team",
                                     "vhost-user"],
                          "fixed": True}),
        "ifname": ("ifname", {"fixed": True, "applies-to": {
            "key": "type", "values": ["tap", "uplink"]}}),
        "mac": ("mac", {"fixed": True, "applies-to": {
            "key": "type", "values": ["tap"]}}),
        "offloads": ("boolean", {"fixed": True, "applies-to": {
            "key": "type", "values": ["tap", "uplink", "team"]}}),
        "vlan-mode": ("enum", {"values": ["untagged", "access", "trunk",
                                          *PVLAN_MODES]}),
        "vlan": (None, {"applies-to": {"key": "vlan-mode",
                                       "values": ["access"]}}),
        "trunks": (None, {"applies-to": {"key": "vlan-mode",
                                         "values": ["trunk"]}}),
        "native-vlan": (None, {"applies-to": {"key": "vlan-mode",
                                              "values": ["trunk"]}}),
        "pvlan-primary": (None, {"applies-to": {"key": "vlan-mode",
                                                "values": PVLAN_MODES}}),
        "pvlan-secondary": (None, {"applies-to": {"key": "vlan-mode",
                                                  "values": PVLAN_MODES}}),
        "mac-limit": (None, {}),
        "mac-spoofing": (None, {}),
        "dhcp-guard": (None, {}),
        "router-guard": (None, {}),
        "storm-limit": (None, {}),
        "ieee-priority-tag": (None, {}),
        "allowed-ips": (None, {}),
        "metering": ("boolean", {"default": False}),
        # Tenant networks and VXLAN tunnels (issue 13).
        "vni": ("integer", {"default": 0, "min": 0, "max": 16777215}),
        "local-ip": ("ip-list", {"fixed": True, "applies-to": {
            "key": "type", "values": ["vxlan"]}}),
        "dst-port": ("integer", {"default": 4789, "fixed": True,
                                 "applies-to": {"key": "type",
                                                "values": ["vxlan"]}}),
        "underlay": ("ifname", {"fixed": True, "applies-to": {
            "key": "type", "values": ["vxlan"]}}),
        "remote": ("vtep-list", {"applies-to": {"key": "type",
                                                "values": ["vxlan"]}}),
        "learn-unknown-vteps": ("boolean", {"default": False, "applies-to": {
            "key": "type", "values": ["vxlan"]}}),
    },
    # NIC teams (issue 12): a port of type team has these besides.
    "team": {
        "members": ("ifname-list", {"fixed": False, "default": None}),
        "mode": ("enum", {"values": ["switch-independent", "static",
                                     "lacp"],
                          "default": "switch-independent"}),
        "lb": ("enum", {"values": ["address-hash", "ip-hash", "mac-hash",
                                   "port", "dynamic"],
                        "default": "address-hash"}),
        "lacp-rate": ("enum", {"values": ["fast", "slow"], "applies-to": {
            "key": "mode", "values": ["lacp"]}}),
        "standby": ("ifname", {"default": None, "applies-to": {
            "key": "mode", "values": ["switch-independent", "static"]}}),
        "rx-balance": ("boolean", {"default": False, "applies-to": {
            "key": "mode", "values": ["switch-independent"]}}),
    },
}

# The kinds these tests can create objects of.
KINDS = ("switch", "port")

# Values of each type that no setting of the type accepts.  A JSON object
# is wrong for every type, including any added later.
NOT_A_VALUE = {"not": "a value"}
WRONG_VALUES = {
    "integer": ["ten", 1.5, True],
    "bit-rate": ["fast", "10X", -1],
    "enum": ["no-such-value", 7],
    "boolean": ["maybe", 2],
    "mac": ["not-a-mac", "02:00:00:00:00"],
    "vlan-set": ["5000", "ten"],
    "ip-list": ["not-an-address", "198.18.0.300"],
    "ifname": ["a/b", "x" * 16],
    "vtep-list": ["5001", "0:198.18.0.1", "5001:2001:db8::1",
                  "16777216:198.18.0.1"],
    "ifname-list": ["a/b", "eth0,,eth1", "x" * 16],
    "path": ["relative/path", "/" + "x" * 120],
    "group": ["no-such-group-here", ""],
}

DOCS = (TOP / "docs" / "user-guide.md", TOP / "docs" / "jsonrpc.md")

# Types whose unset state is null.
NULLABLE = ("mac", "vlan-set", "ip-list", "vtep-list", "path", "group")


# ---- Helpers ----

def names_key(message, key):
    """True if 'message' names the setting 'key' as a word of its own (not
    "vlan" inside "native-vlan")."""
    return re.search(rf"(?<![\w-]){re.escape(key)}(?![\w-])", message)


def schema(daemon, kind=None):
    """The settings of each kind: {kind: {key: setting}}, in order."""
    params = {} if kind is None else {"kind": kind}
    kinds = daemon.rpc_raw("schema.get", params)["kinds"]
    return {k["kind"]: {s["key"]: s for s in k["settings"]} for k in kinds}


def settings_of(obj):
    """The settings of a switch or port as get returns it: its "settings"
    object if it has one, else the object itself."""
    inner = obj.get("settings")
    return inner if isinstance(inner, dict) else obj


def mode_keys(settings):
    """Keys that other keys apply to only for some of their values: a
    change of one may need its dependants in the same request."""
    return {s["applies-to"]["key"] for s in settings.values()
            if s["applies-to"]}


def refused(daemon, method, params):
    """The error of 'method' with 'params', which must fail."""
    with pytest.raises(RpcError) as info:
        daemon.rpc_raw(method, params)
    return info.value


class Objects:
    """A switch, a TAP port and an uplink port to try settings on, and
    what a test needs to add more."""

    def __init__(self, daemon, topo):
        self.daemon = daemon
        self.topo = topo
        self.schema = schema(daemon)
        self._count = 0
        daemon.rpc("switch.add", name="sw0")
        daemon.rpc_raw("port.add", {"switch": "sw0", "name": "p-tap",
                                    "type": "tap",
                                    "ifname": topo.ifname("sc")})
        up, _ = topo.veth()
        daemon.rpc_raw("port.add", {"switch": "sw0", "name": "p-up",
                                    "type": "uplink", "ifname": up})
        # A VXLAN tunnel on the loopback, on a port of its own.
        daemon.rpc_raw("port.add", {"switch": "sw0", "name": "p-vx",
                                    "type": "vxlan",
                                    "local-ip": "127.0.0.1",
                                    "dst-port": random.randint(20000, 60000)})
        # An interface no port holds, for uplinks a test adds.
        self.spare_uplink, _ = topo.veth()
        self.existing = {"switch": ["sw0"],
                         "port": ["p-tap", "p-up", "p-vx"]}

    def get(self, kind, name):
        return settings_of(self.daemon.rpc(f"{kind}.get", name=name))

    def config_bytes(self):
        return (self.daemon.state_dir / "config.json").read_bytes()

    def add_params(self, kind, extra):
        """Params of an add of a new object of 'kind', with 'extra'."""
        self._count += 1
        if kind == "switch":
            return {"name": f"new-sw{self._count}", **extra}
        params = {"switch": "sw0", "name": f"new-p{self._count}",
                  "type": "tap", **extra}
        if params["type"] == "vxlan" and "local-ip" not in extra:
            params["local-ip"] = "127.0.0.1"
        if "ifname" not in extra and params["type"] in ("tap", "uplink"):
            params["ifname"] = (self.spare_uplink
                                if params["type"] == "uplink"
                                else self.topo.ifname("sc"))
        return params

    def owned_by(self, owner):
        """A TAP port on a switch whose setting owner["key"] has the value
        owner["values"][0] (made on first use)."""
        value = owner["values"][0]
        name = f"p-{owner['key'][:8]}-{value}"[:60]
        if name not in self.existing["port"]:
            switch = f"sw-{value}"[:60]
            self.daemon.rpc_raw("switch.add", {"name": switch,
                                               owner["key"]: value})
            self.daemon.rpc_raw("port.add", {"switch": switch,
                                             "name": name, "type": "tap",
                                             "ifname": self.topo.ifname("sc")})
            self.existing["port"].append(name)
        return name

    def target(self, kind, setting):
        """The name of an existing object of 'kind' that 'setting' applies
        to as far as a fixed key decides (a TAP for mac) or its owner's
        mode (a port's switch), and the params a set needs besides the key
        so that a mode key allows it."""
        applies = setting["applies-to"]
        owner = setting.get("applies-to-owner")
        if owner:
            assert not applies, "applies-to-owner with applies-to: extend"
            return self.owned_by(owner), {}
        if not applies:
            return self.existing[kind][0], {}
        mode = self.schema[kind][applies["key"]]
        if not mode["fixed"]:
            return self.existing[kind][0], {
                applies["key"]: applies["values"][0]}
        for name in self.existing[kind]:
            if self.get(kind, name).get(applies["key"]) in applies["values"]:
                return name, {}
        pytest.fail(f"no {kind} with {applies['key']} in "
                    f"{applies['values']} to try {setting['key']} on")

    def valid_values(self, setting):
        """Values 'setting' accepts, at least two where it has two."""
        t = setting["type"]
        if t in RANGED_TYPES:
            lo, hi = setting["min"], setting["max"]
            # Bit rates are whole bytes: max-bandwidth rounds to a
            # multiple of 8 (FEATURES.md §5), so the next value is lo + 8.
            step = 8 if t == "bit-rate" else 1
            return sorted({lo, min(lo + step, hi), hi})
        return {
            "boolean": [False, True],
            "enum": setting.get("values"),
            "mac": ["02:5e:0a:00:00:01", "02:5e:0a:00:00:02"],
            "vlan-set": ["10", "20-30"],
            "ip-list": ["198.18.0.7", "198.18.0.8,2001:db8::8"],
            "ifname": [self.topo.ifname("sc")],
            "vtep-list": ["5001:198.18.0.7", "5001:198.18.0.8,5002:198.18.0.9"],
            "path": [f"/tmp/{unique('vsc')}.sock"],
            "group": ["root", "daemon"],
        }.get(t) or pytest.fail(f"{setting['key']}: no valid value known "
                                f"for type {t}")

    def other_value(self, setting, current):
        """A value 'setting' accepts that differs from 'current'."""
        for value in self.valid_values(setting):
            if value != current:
                return value
        pytest.fail(f"{setting['key']}: no value other than {current!r}")


@pytest.fixture
def objs(daemon, topo):
    return Objects(daemon, topo)


def settable(objs, kind):
    """The settings of 'kind' a set may change on its own: not fixed, not
    a mode key (whose other values may need further keys), and applying
    to an existing object or with its mode given in the same request."""
    settings = objs.schema[kind]
    modes = mode_keys(settings)
    return [s for key, s in settings.items()
            if not s["fixed"] and key not in modes and "alias-of" not in s]


def settable_alone(objs, kind):
    """(setting, object name) for each setting of settable() that an
    existing object takes without a change of mode."""
    for s in settable(objs, kind):
        name, extra = objs.target(kind, s)
        if not extra:
            yield s, name


def test_inverted_alias(objs):
    """mac-spoofing-guard=true is mac-spoofing=false: get and config.json
    show mac-spoofing only; both keys at once are refused."""
    daemon = objs.daemon
    aliases = [s for s in objs.schema["port"].values() if "alias-of" in s]
    assert [(s["key"], s["alias-of"], s["inverted"]) for s in aliases] == [
        ("mac-spoofing-guard", "mac-spoofing", True)]
    name, _ = objs.target("port", objs.schema["port"]["mac-spoofing"])
    for guard in (False, True, False):
        daemon.rpc_raw("port.set", {"name": name,
                                    "mac-spoofing-guard": guard})
        shown = objs.get("port", name)
        assert shown["mac-spoofing"] is (not guard)
        assert "mac-spoofing-guard" not in shown
    res = daemon.ctl("port", "set", name, "mac-spoofing-guard=on",
                     json_out=False)
    assert res.returncode == 0 and objs.get("port", name)["mac-spoofing"] is \
        False
    error = refused(daemon, "port.set", {"name": name, "mac-spoofing": True,
                                         "mac-spoofing-guard": True})
    assert error.code == INVALID_PARAMS
    assert "mac-spoofing-guard and mac-spoofing" in error.message


# ---- schema.get ----

def test_schema_shape(daemon):
    result = daemon.rpc_raw("schema.get", {})
    assert set(result) == {"kinds"}
    kinds = [k["kind"] for k in result["kinds"]]
    assert len(kinds) == len(set(kinds)), kinds
    assert set(KINDS) <= set(kinds), kinds

    for entry in result["kinds"]:
        assert set(entry) == {"kind", "settings"}, entry
        keys = [s["key"] for s in entry["settings"]]
        assert keys and len(keys) == len(set(keys)), keys
        by_key = {s["key"]: s for s in entry["settings"]}
        for s in entry["settings"]:
            where = f"{entry['kind']} {s['key']}"
            common = {"key", "type", "default", "applies-to", "fixed",
                      "help"}
            extra = {"integer": {"min", "max"}, "bit-rate": {"min", "max"},
                     "enum": {"values"}}.get(s["type"], set())
            if "applies-to-owner" in s:
                # Applies only on an object whose owner (a port's switch)
                # has one of 'values' for its own setting 'key'.
                extra = extra | {"applies-to-owner"}
            if "alias-of" in s:
                # Another name of a setting, for input only.
                assert s["alias-of"] in by_key, where
                assert isinstance(s["inverted"], bool), where
                extra = extra | {"alias-of", "inverted"}
            assert s["type"] in TYPES, where
            assert set(s) == common | extra, where
            assert re.fullmatch(r"[a-z][a-z0-9-]*", s["key"]), where
            assert isinstance(s["fixed"], bool), where
            assert isinstance(s["help"], str) and s["help"].strip(), where
            assert "\n" not in s["help"], where
            if s["type"] in RANGED_TYPES:
                assert all(isinstance(s[m], int) and not isinstance(
                    s[m], bool) for m in ("min", "max")), where
                assert s["min"] <= s["max"], where
                if s["default"] is not None and s["type"] == "integer":
                    assert s["min"] <= s["default"] <= s["max"], where
            if s["type"] == "enum":
                assert s["values"] and all(
                    isinstance(v, str) for v in s["values"]), where
                assert len(s["values"]) == len(set(s["values"])), where
                assert s["default"] in (None, *s["values"]), where
            if s["type"] == "boolean":
                assert s["default"] in (None, True, False), where
            applies = s["applies-to"]
            if applies is not None:
                assert set(applies) == {"key", "values"}, where
                mode = by_key.get(applies["key"])
                assert mode and mode["key"] != s["key"], where
                assert applies["values"], where
                if mode["type"] == "enum":
                    assert set(applies["values"]) <= set(mode["values"]), (
                        where)

    # An owner's mode key is an enum setting of the owner's kind.
    by_kind = {e["kind"]: {s["key"]: s for s in e["settings"]}
               for e in result["kinds"]}
    for entry in result["kinds"]:
        for s in entry["settings"]:
            owner = s.get("applies-to-owner")
            if owner is None:
                continue
            where = f"{entry['kind']} {s['key']}"
            assert set(owner) == {"kind", "key", "values"}, where
            mode = by_kind.get(owner["kind"], {}).get(owner["key"])
            assert mode and mode["type"] == "enum", where
            assert owner["values"] and set(owner["values"]) <= set(
                mode["values"]), where

    # One kind alone is that kind's entry of the whole.
    for entry in result["kinds"]:
        alone = daemon.rpc_raw("schema.get", {"kind": entry["kind"]})
        assert alone == {"kinds": [entry]}
    error = refused(daemon, "schema.get", {"kind": "no-such-kind"})
    assert "no-such-kind" in error.message


def test_schema_keeps_the_designed_keys(daemon):
    settings = schema(daemon)
    for kind, keys in CONTRACT.items():
        missing = set(keys) - set(settings[kind])
        assert not missing, f"{kind}: {missing}"
        for key, (type_, members) in keys.items():
            s = settings[kind][key]
            if type_:
                assert s["type"] == type_, (kind, key)
            for member, value in members.items():
                if member == "values":
                    assert set(s["values"]) == set(value), (kind, key)
                elif member == "applies-to":
                    assert s["applies-to"]["key"] == value["key"], key
                    assert set(s["applies-to"]["values"]) == set(
                        value["values"]), key
                else:
                    assert s[member] == value, (kind, key, member)
        fixed = {k for k, (_, m) in keys.items() if m.get("fixed")}
        assert fixed <= {k for k, s in settings[kind].items()
                         if s["fixed"]}, kind


# ---- What the daemon derives from it ----

@pytest.mark.parametrize("kind", KINDS)
def test_wrong_value_names_the_key(objs, kind):
    """Every setting, given a value of a wrong type or out of range, is
    refused with a message that names it (and the range, for integers),
    in add for fixed keys and in set for the others."""
    daemon = objs.daemon
    for key, s in objs.schema[kind].items():
        wrongs = WRONG_VALUES.get(s["type"], []) + [NOT_A_VALUE]
        if s["type"] == "integer":
            wrongs += [s["max"] + 1, str(s["max"] + 1), s["min"] - 1]
        for wrong in wrongs:
            if s["fixed"]:
                extra = {}
                applies = s["applies-to"]
                if applies:
                    extra[applies["key"]] = applies["values"][0]
                method = f"{kind}.add"
                params = objs.add_params(kind, {**extra, key: wrong})
            else:
                name, extra = objs.target(kind, s)
                method = f"{kind}.set"
                params = {"name": name, **extra, key: wrong}
            error = refused(daemon, method, params)
            where = f"{method} {key}={wrong!r}: {error.message}"
            assert error.code == INVALID_PARAMS, where
            assert names_key(error.message, key), where
            if s["type"] == "integer" and is_integer_text(wrong):
                assert (str(s["min"]) in error.message
                        and str(s["max"]) in error.message), where


def is_integer_text(value):
    """True for an integer, as JSON or as text (not a boolean)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (
        isinstance(value, str) and re.fullmatch(r"-?\d+", value))


@pytest.mark.parametrize("kind", KINDS)
def test_unknown_key_suggests_the_nearest(objs, kind):
    daemon = objs.daemon
    keys = list(objs.schema[kind])
    name = objs.existing[kind][0]
    # A suggestion may name the method's own params too.
    candidates = keys + ["name", "switch"]
    for key in keys:
        typo = key[:-1]
        distances = sorted((edit_distance(typo, k), k) for k in candidates)
        if typo in candidates or distances[1][0] == distances[0][0]:
            continue  # no single nearest key to expect
        error = refused(daemon, f"{kind}.set", {"name": name, typo: 1})
        assert error.code == INVALID_PARAMS, error.message
        assert f"unknown parameter '{typo}'" in error.message, error.message
        assert f"did you mean '{key}'" in error.message, error.message

    error = refused(daemon, "port.set", {"name": "p-tap", "vlan-mod": 1})
    assert "unknown parameter 'vlan-mod'" in error.message
    assert "did you mean 'vlan-mode'" in error.message
    error = refused(daemon, f"{kind}.set", {"name": name, "zqxwvy": 1})
    assert "unknown parameter 'zqxwvy'" in error.message, error.message


def edit_distance(a, b):
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


@pytest.mark.parametrize("kind", KINDS)
def test_fixed_keys_cannot_be_set(objs, kind):
    daemon = objs.daemon
    fixed = [s for s in objs.schema[kind].values() if s["fixed"]]
    if kind == "port":
        assert fixed, "the port kind has fixed keys (type, ifname...)"
    for s in fixed:
        applies = s["applies-to"]
        for name in objs.existing[kind]:
            before = objs.get(kind, name)
            if applies and before.get(applies["key"]) not in applies[
                    "values"]:
                continue  # refused for that reason (another test's)
            current = before.get(s["key"])
            value = current if current is not None else objs.valid_values(
                s)[0]
            error = refused(daemon, f"{kind}.set",
                            {"name": name, s["key"]: value})
            assert error.code == INVALID_PARAMS, error.message
            assert (f"{s['key']} is fixed when the {kind} is created"
                    in error.message), error.message
            assert objs.get(kind, name) == before


def test_key_of_another_mode_is_refused(objs):
    """A key given where its mode key says it does not apply ("trunks
    applies to vlan-mode=trunk")."""
    daemon = objs.daemon
    settings = objs.schema["port"]
    tried = 0
    for key, s in settings.items():
        applies = s["applies-to"]
        if not applies:
            continue
        mode = settings[applies["key"]]
        others = [v for v in mode.get("values", [])
                  if v not in applies["values"]]
        assert others, f"{key} applies to every {applies['key']}"
        value = objs.valid_values(s)[0]
        if s["fixed"] or mode["fixed"]:
            method = "port.add"
            params = objs.add_params("port", {applies["key"]: others[0],
                                              key: value})
        else:
            # p-tap is untagged: the mode stays one 'key' does not apply
            # to unless this request changes it.
            name = next(n for n in objs.existing["port"]
                        if objs.get("port", n).get(applies["key"])
                        in others)
            method = "port.set"
            params = {"name": name, key: value}
        error = refused(daemon, method, params)
        where = f"{method} {params}: {error.message}"
        assert error.code == INVALID_PARAMS, where
        assert f"{key} applies to {applies['key']}=" in error.message, where
        for v in applies["values"]:
            assert v in error.message, where
        tried += 1
    assert tried, "no port setting has an applies-to"

    error = refused(daemon, "port.set", {"name": "p-tap", "trunks": "10"})
    assert "trunks applies to vlan-mode=trunk" in error.message


def test_key_of_another_owner_mode_is_refused(objs):
    """A port key whose switch's mode does not have it (a weight on a
    switch in absolute mode) is refused, naming the key and the switch's
    mode, and changes nothing."""
    daemon = objs.daemon
    for key, s in objs.schema["port"].items():
        owner = s.get("applies-to-owner")
        if not owner:
            continue
        mode = objs.schema[owner["kind"]][owner["key"]]
        for other in mode["values"]:
            if other in owner["values"]:
                continue
            name = objs.owned_by({"key": owner["key"], "values": [other]})
            before = objs.get("port", name)
            value = next(v for v in objs.valid_values(s)
                         if v != s["default"])
            error = refused(daemon, "port.set", {"name": name, key: value})
            where = f"{name} {key}={value!r}: {error.message}"
            assert error.code == INVALID_PARAMS, where
            assert names_key(error.message, key), where
            assert f"{owner['key']} is {other}" in error.message, where
            assert objs.get("port", name) == before, where


@pytest.mark.parametrize("kind", KINDS)
def test_set_is_all_or_nothing(objs, kind):
    """A set with one good key and one bad one changes nothing: not the
    object, not config.json; the good key alone is then accepted."""
    daemon = objs.daemon
    candidates = settable(objs, kind)
    assert len(candidates) >= 2, kind
    for good, name in settable_alone(objs, kind):
        bad = candidates[(candidates.index(good) + 1) % len(candidates)]
        before = objs.get(kind, name)
        config = objs.config_bytes()
        value = objs.other_value(good, before.get(good["key"]))
        for bad_key, bad_value in ((bad["key"], NOT_A_VALUE),
                                   ("no-such-setting", 1)):
            error = refused(daemon, f"{kind}.set",
                            {"name": name, good["key"]: value,
                             bad_key: bad_value})
            where = f"{good['key']}={value!r} {bad_key}: {error.message}"
            assert names_key(error.message, bad_key), where
            assert objs.get(kind, name) == before, where
            assert objs.config_bytes() == config, where
        daemon.rpc_raw(f"{kind}.set", {"name": name, good["key"]: value})
        assert objs.get(kind, name)[good["key"]] == value, good["key"]
        daemon.rpc_raw(f"{kind}.set", {"name": name,
                                       good["key"]: before[good["key"]]})


def bit_rate_texts(setting):
    """Texts of bit rates in the range of 'setting', with their value in
    bits per second."""
    texts = [("800k", 800_000), ("10M", 10_000_000), ("1.5G", 1_500_000_000),
             ("64000", 64_000)]
    return [(t, v) for t, v in texts
            if setting["min"] <= v <= setting["max"]]


@pytest.mark.parametrize("kind", KINDS)
def test_json_types_are_strict(objs, kind):
    """Over JSON-RPC a value has its JSON type: "10" for an integer, "on"
    for a boolean, and null for a setting that cannot be unset, are
    refused and change nothing, so a tool's mistake comes back instead of
    a guess.  Lists and MACs are null when unset, and null unsets them."""
    daemon = objs.daemon
    tried = 0
    for s, name in settable_alone(objs, kind):
        key = s["key"]
        if s["type"] in NULLABLE:
            daemon.rpc_raw(f"{kind}.set", {"name": name, key: None})
            assert objs.get(kind, name)[key] is None, key
            tried += 1
            continue
        if s["type"] == "integer":
            texts = [str(objs.other_value(s, objs.get(kind, name)[key]))]
        elif s["type"] == "boolean":
            texts = ["on", "true"]
        else:
            texts = []
        for value in texts + [None]:
            before = objs.get(kind, name)
            error = refused(daemon, f"{kind}.set", {"name": name, key: value})
            assert error.code == INVALID_PARAMS, (key, value)
            assert names_key(error.message, key), error.message
            assert objs.get(kind, name) == before, (key, value)
            tried += 1
    assert tried, kind


@pytest.mark.parametrize("kind", KINDS)
def test_command_line_text_becomes_the_json_type(objs, kind):
    """vswitch-ctl turns the text of every integer and boolean setting into
    its JSON type (on/off/true/false for booleans): a setting the CLI does
    not know the type of would be sent as text and refused."""
    daemon = objs.daemon
    tried = 0
    for s, name in settable_alone(objs, kind):
        key = s["key"]
        if s["type"] == "integer":
            value = objs.other_value(s, objs.get(kind, name)[key])
            pairs = [(str(value), value)]
        elif s["type"] == "boolean":
            pairs = [("on", True), ("off", False), ("true", True),
                     ("false", False)]
        else:
            continue
        for text, expected in pairs:
            res = daemon.ctl(kind, "set", name, f"{key}={text}",
                             check=False, json_out=False)
            assert res.returncode == 0, (key, text, res.stderr)
            assert objs.get(kind, name)[key] == expected, (key, text)
            tried += 1
    assert tried, kind


# ---- The documentation ----

def doc_table(path, kind):
    """The rows of the settings table of 'kind' in the document 'path':
    {key: [cells]}.  The table is the first one under the heading
    "### Kind settings"; its first column is the key in backticks."""
    heading = f"### {kind.capitalize()} settings"
    lines = path.read_text().splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == heading]
    assert len(starts) == 1, f"{path.name}: {len(starts)} '{heading}'"
    rows = []
    for line in lines[starts[0] + 1:]:
        if line.startswith("#"):
            break
        if line.startswith("|"):
            rows.append(line)
        elif rows:
            break
    assert len(rows) >= 3, f"{path.name}: no table under '{heading}'"
    assert re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", rows[1]), rows[1]
    table = {}
    for row in rows[2:]:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]
        m = re.fullmatch(r"`([a-z][a-z0-9-]*)`", cells[0])
        assert m, f"{path.name} {heading}: first cell {cells[0]!r}"
        assert m.group(1) not in table, f"{path.name}: {m.group(1)} twice"
        table[m.group(1)] = cells
    return table


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_docs_list_exactly_the_schema(daemon, doc):
    """Every key of schema.get is in the document's settings table of its
    kind, with its type and whether it is fixed, and the table documents
    no key the daemon does not have."""
    for kind, settings in schema(daemon).items():
        table = doc_table(doc, kind)
        missing = set(settings) - set(table)
        unknown = set(table) - set(settings)
        assert not missing, f"{doc.name} {kind}: undocumented {missing}"
        assert not unknown, f"{doc.name} {kind}: no such keys {unknown}"
        for key, s in settings.items():
            cells = table[key]
            assert len(cells) == 6, f"{doc.name} {key}: {cells}"
            type_cell, fixed_cell = cells[1], cells[4]
            assert type_cell.split()[0] == s["type"], (doc.name, key)
            if s["type"] == "integer":
                assert f"{s['min']}-{s['max']}" in type_cell, (doc.name, key)
            for value in s.get("values", []):
                assert f"`{value}`" in type_cell, (doc.name, key, value)
            assert fixed_cell == ("yes" if s["fixed"] else "no"), (
                doc.name, key)


# ---- The CLI help ----

HELP_COMMANDS = [("switch", "add"), ("switch", "set"), ("port", "add"),
                 ("port", "set"), ("team", "add"), ("team", "set")]


def ctl_help(socket, *words):
    res = sh([str(VSWITCH_CTL), "--socket", str(socket), *words, "--help"],
             check=False)
    assert res.returncode == 0, res
    assert res.stderr == "", res.stderr
    return res.stdout


def help_entries(text, keys):
    """The entries of the settings table of a help 'text': {key: the text
    of its row and of the indented lines under it}."""
    entries = {}
    current = None
    for line in text.splitlines():
        if line.startswith("Fixed when"):
            break  # the names of the fixed keys, no entries
        words = line.split()
        if line.startswith("  ") and words and words[0] in keys and (
                words[0] not in entries):
            current = words[0]
            entries[current] = [line]
        elif current and line.startswith("      "):
            entries[current].append(line)
        else:
            current = None
    return {key: "\n".join(lines) for key, lines in entries.items()}


@pytest.mark.parametrize("noun, verb", HELP_COMMANDS)
def test_cli_help_lists_the_schema(daemon, noun, verb):
    settings = schema(daemon, noun)[noun]
    text = ctl_help(daemon.socket, noun, verb)
    assert text.startswith(f"Usage: vswitch-ctl {noun} {verb}"), text
    entries = help_entries(text, settings)
    for key, s in settings.items():
        if verb == "set" and s["fixed"]:
            # Not settable: named among the keys fixed at creation.
            assert key not in entries, (key, text)
            assert names_key(text.split("\nFixed when")[1], key), text
            continue
        assert key in entries, (key, text)
        entry = entries[key]
        assert entry.split()[1] == s["type"], entry
        if s["type"] in RANGED_TYPES:
            assert f"{s['min']}-{s['max']}" in entry, entry
        for value in s.get("values", []):
            assert value in entry, (value, entry)
        if s["applies-to"]:
            assert f"{s['applies-to']['key']}=" in entry, entry
        assert " ".join(s["help"].split()) in " ".join(entry.split()), entry
    # --format does not change help.
    assert ctl_help(daemon.socket, "--format", "json", noun, verb) == text


@pytest.mark.parametrize("noun, verb", HELP_COMMANDS)
def test_cli_help_without_daemon(tmp_path, noun, verb):
    socket = tmp_path / "nowhere.sock"
    text = ctl_help(socket, noun, verb)
    assert text.startswith(f"Usage: vswitch-ctl {noun} {verb}"), text
    assert f"\nJSON-RPC method: {noun}.{verb}\n" in text
    notes = [line for line in text.splitlines()
             if "running vswitchd" in line]
    assert len(notes) == 1, text
    assert str(socket) in notes[0] and "No such file" in notes[0], notes
