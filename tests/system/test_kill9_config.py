"""ROBUSTNESS.md, Faults: `kill -9` of the daemon at random moments while
configuration changes.  On restart the configuration is the old or the
new one, never corrupt, and the port's guards are on."""

import json
import random
import threading
import time

from conftest import RpcError, add_vm, unique


def test_kill9_during_configuration_changes(daemon, topo):
    daemon.rpc("switch.add", name="sw0")
    add_vm(daemon, topo, "sw0", "vm1")
    daemon.rpc("port.set", name="vm1", router_guard=True, dhcp_guard=True,
               vlan_mode="access", vlan=1)
    rng = random.Random(11)
    for round_ in range(5):
        sent = []
        stop = threading.Event()

        def burst():
            # Each value is recorded before it is sent: one that was in
            # flight at the kill may or may not have been saved.
            for vlan in range(2, 22):
                if stop.is_set():
                    return
                sent.append(vlan)
                try:
                    daemon.rpc("port.set", name="vm1", vlan=vlan)
                except (OSError, RpcError, ValueError):
                    return

        before = daemon.rpc("port.get", name="vm1")["vlan"]
        worker = threading.Thread(target=burst)
        worker.start()
        time.sleep(rng.uniform(0.0, 0.15))
        daemon.kill9()
        stop.set()
        worker.join(timeout=30)
        assert not worker.is_alive()

        config = json.loads((daemon.state_dir / "config.json").read_text())
        assert config, f"round {round_}: empty config.json"
        daemon.start()
        port = daemon.rpc("port.get", name="vm1")
        assert port["vlan"] in [before] + sent, (round_, port["vlan"], sent)
        assert port["router-guard"] is True and port["dhcp-guard"] is True
        assert [p["name"] for p in daemon.rpc("port.list")["ports"]] == \
            ["vm1"]
