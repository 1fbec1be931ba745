"""ROBUSTNESS.md, management plane: rates of 2^63 and zero or negative
intervals are refused with a message, and the configuration, in the daemon
and on disk, stays byte for byte what it was."""

import json

from conftest import RpcError, add_vm

BIG = 2 ** 63

BAD = [
    ("port.set", {"name": "vm1", "max-bandwidth": BIG - 1}),
    ("port.set", {"name": "vm1", "max-bandwidth": str(BIG)}),
    ("port.set", {"name": "vm1", "max-bandwidth": -1}),
    ("port.set", {"name": "vm1", "max-bandwidth-in": BIG - 1}),
    ("port.set", {"name": "vm1", "max-bandwidth-burst": BIG - 1}),
    ("port.set", {"name": "vm1", "min-bandwidth-absolute": BIG - 1}),
    ("port.set", {"name": "vm1", "link-speed": BIG - 1}),
    ("port.set", {"name": "nosuch", "max-bandwidth": "10M"}),
    ("switch.set", {"name": "sw0", "metering-save-interval": 0}),
    ("switch.set", {"name": "sw0", "metering-save-interval": -1}),
    ("switch.set", {"name": "sw0", "metering-save-interval": BIG - 1}),
    ("switch.set", {"name": "sw0", "mac-ageing": 0}),
]


def test_rates_of_2_63_and_bad_intervals_change_nothing(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    add_vm(daemon, topo, "sw0", "vm1")
    daemon.rpc("port.set", name="vm1", max_bandwidth="10M")
    config = (daemon.state_dir / "config.json").read_bytes()
    port = daemon.rpc("port.get", name="vm1")
    switch = daemon.rpc("switch.get", name="sw0")
    for method, params in BAD:
        try:
            daemon.rpc_raw(method, params)
        except RpcError as e:
            assert e.code in (-32602, -32001) and e.message, (params, e)
        else:
            raise AssertionError(f"{method} {json.dumps(params)} accepted")
    # A number past what JSON parsers take is a parse error, not a crash.
    try:
        daemon.rpc_raw("port.set", {"name": "vm1", "max-bandwidth": BIG})
    except RpcError as e:
        assert e.code == -32700 and "too big integer" in e.message
    else:
        raise AssertionError("2^63 accepted")
    assert daemon.rpc("port.get", name="vm1") == port
    assert daemon.rpc("switch.get", name="sw0") == switch
    assert (daemon.state_dir / "config.json").read_bytes() == config
